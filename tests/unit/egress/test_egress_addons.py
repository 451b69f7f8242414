"""The egress addons inside mitmproxy's own test harness (taddons + tflow)."""
from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from mitmproxy import connection, http
from mitmproxy.proxy import server_hooks
from mitmproxy.proxy.layers.http import HttpRequestHeadersHook, HttpRequestHook, HttpResponseHook
from mitmproxy.test import taddons, tflow, tutils

from bottle_tasks.egress.addons import build_addons
from bottle_tasks.egress.addons.ssrf import SsrfGuard
from bottle_tasks.egress.state import EgressState

TOKEN = "sk-ant-real-token-0123456789"
ROUTES = """version: 1
routes:
  - host: api.anthropic.com
    path_allowlist: ["/v1/"]
    methods: [GET, POST]
    auth: {scheme: bearer, token_env: CLAUDE_CODE_OAUTH_TOKEN}
    dlp: log
  - host: github.com
    dlp: block
  - host: paste.example.com
    dlp: redact
  - host: internal.test
    dlp: block
    allow_cidrs: ["172.30.0.0/16"]
"""


class Egress:
    def __init__(self, tmp: Path, routes: str = ROUTES, env: dict[str, str] | None = None) -> None:
        self.routes_file = tmp / "routes.yaml"
        self.routes_file.write_text(routes)
        self.log_file = tmp / "egress.jsonl"
        self.state = EgressState(self.routes_file, env={"CLAUDE_CODE_OAUTH_TOKEN": TOKEN} if env is None else env)
        self.addons = build_addons(self.routes_file, self.log_file, self.state)
        # name resolution is fixed per test so nothing leaves the machine
        self.ssrf = next(a for a in self.addons if isinstance(a, SsrfGuard))
        self.ssrf.overrides = {
            "api.anthropic.com": ipaddress.ip_address("160.79.104.10"),
            "github.com": ipaddress.ip_address("140.82.112.3"),
            "paste.example.com": ipaddress.ip_address("93.184.216.34"),
        }
        self.ctx = taddons.context(*self.addons)

    def run(self, hook) -> None:
        loop = self.ctx.master.event_loop
        loop.run_until_complete(self.ctx.master.addons.handle_lifecycle(hook))

    def send(self, flow: http.HTTPFlow) -> http.HTTPFlow:
        self.run(HttpRequestHeadersHook(flow))
        self.run(HttpRequestHook(flow))
        if flow.response is None:
            flow.response = tutils.tresp(content=b"upstream")
        self.run(HttpResponseHook(flow))
        return flow

    def log(self) -> list[dict]:
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]


@pytest.fixture
def egress(tmp_path):
    e = Egress(tmp_path)
    yield e
    e.ctx.__exit__(None, None, None)


def https_flow(egress: Egress | None, host="api.anthropic.com", path="/v1/messages", method="POST", *,
               sni=None, connect=None, host_header=None, headers=(), body=b"") -> http.HTTPFlow:
    """A request inside a TLS CONNECT tunnel, as mitmproxy presents it."""
    client = tflow.tclient_conn()
    client.sni = host if sni is None else sni
    if egress is not None:
        egress.state.tunnels[client.id] = connect or (host, 443)
    hdrs = [(b"Host", (host_header or host).encode())] + [(k.encode(), v.encode()) for k, v in headers]
    hdrs.append((b"content-length", str(len(body)).encode()))
    req = tutils.treq(host=host, port=443, scheme=b"https", method=method.encode(), path=path.encode(),
                      headers=http.Headers(hdrs), content=body)
    return tflow.tflow(client_conn=client, req=req)


def http_flow(host, path="/", method="GET", *, host_header=None, body=b"", headers=()) -> http.HTTPFlow:
    """A plain absolute-form proxy request."""
    client = tflow.tclient_conn()
    client.timestamp_tls_setup = None
    client.sni = None
    hdrs = [(b"Host", (host_header or host).encode())] + [(k.encode(), v.encode()) for k, v in headers]
    hdrs.append((b"content-length", str(len(body)).encode()))
    req = tutils.treq(host=host, port=80, scheme=b"http", method=method.encode(), path=path.encode(),
                      headers=http.Headers(hdrs), content=body)
    return tflow.tflow(client_conn=client, req=req)


def blocked(flow: http.HTTPFlow, rule: str) -> bool:
    resp = flow.response
    assert resp is not None and resp.status_code == 403, resp
    reason = resp.headers["X-Bottle-Block-Reason"]
    assert reason.startswith(rule + ":"), reason
    assert "Blocked by the claude-bottle egress proxy" in resp.text
    return True


def test_allowed_request_gets_real_token_instead_of_placeholder(egress):
    flow = egress.send(https_flow(egress, headers=[("Authorization", "Bearer bottle-placeholder"),
                                                     ("Proxy-Authorization", "Basic eDp5")]))
    assert flow.response.status_code == 200
    assert flow.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Proxy-Authorization" not in flow.request.headers


def test_block_body_names_the_supervise_tool(egress):
    flow = egress.send(https_flow(egress, host="evil.com", path="/"))
    assert blocked(flow, "route")
    assert "`egress-block`" in flow.response.text and "`supervise`" in flow.response.text
    assert "evil.com" in flow.response.text


@pytest.mark.parametrize("path", ["/v1/../secret", "/v1/%2e%2e/secret", "/v1%2Fsecret", "/v1/%2e%2e%2fsecret"])
def test_path_traversal(egress, path):
    assert blocked(egress.send(https_flow(egress, path=path, method="GET")), "path")


def test_normalised_path_is_what_goes_upstream(egress):
    flow = egress.send(https_flow(egress, path="/v1//./messages?x=1", method="GET"))
    assert flow.response.status_code == 200 and flow.request.path == "/v1/messages?x=1"


def test_host_case_and_trailing_dot(egress):
    flow = egress.send(https_flow(egress, host="API.Anthropic.com.", sni="api.anthropic.com",
                                  connect=("api.anthropic.com", 443), path="/v1/models", method="GET"))
    assert flow.response.status_code == 200
    assert flow.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert blocked(egress.send(https_flow(egress, host="api.anthropic.com.evil.com", path="/v1/x")), "route")


def test_sni_differs_from_host(egress):
    flow = egress.send(https_flow(egress, sni="github.com"))
    assert blocked(flow, "fronting")
    assert "Authorization" not in flow.request.headers or TOKEN not in flow.request.headers["Authorization"]


def test_host_header_differs_from_connect_target(egress):
    flow = egress.send(https_flow(egress, connect=("github.com", 443), sni="github.com"))
    assert blocked(flow, "fronting")


def test_absolute_url_differs_from_host(egress):
    assert blocked(egress.send(http_flow("github.com", "/x", host_header="api.anthropic.com")), "fronting")


def test_plain_http_in_connect_tunnel_refused(egress):
    flow = http_flow("github.com", "/")
    egress.state.tunnels[flow.client_conn.id] = ("github.com", 80)
    assert blocked(egress.send(flow), "fronting")


def test_opaque_tunnel_killed(egress):
    flow = tflow.ttcpflow()
    from mitmproxy.proxy.layers.tcp import TcpStartHook
    egress.run(TcpStartHook(flow))
    assert flow.error is not None and flow.error.msg == "Connection killed."


@pytest.mark.parametrize("method", ["TRACE", "TRACK"])
def test_trace_refused(egress, method):
    assert blocked(egress.send(http_flow("github.com", "/", method=method)), "method")


def test_method_allowlist(egress):
    assert blocked(egress.send(https_flow(egress, method="DELETE", path="/v1/x")), "method")


def test_credentials_only_over_https(egress):
    flow = egress.send(http_flow("api.anthropic.com", "/v1/messages", method="POST",
                                 headers=[("Authorization", "Bearer bottle-placeholder")]))
    assert blocked(flow, "credentials")
    assert TOKEN not in str(flow.request.headers)


def test_injection_when_upstream_tls_verified(egress):
    egress.ctx.options.update(ssl_insecure=False)
    flow = https_flow(egress, path="/v1/models", method="GET")
    egress.run(HttpRequestHeadersHook(flow))
    assert flow.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_ssl_insecure_is_refused_at_configure(egress):
    from mitmproxy import exceptions
    with pytest.raises(exceptions.OptionsError):
        egress.ctx.options.update(ssl_insecure=True)


def test_connection_strategy_forced_lazy(egress):
    # registered by mitmdump's proxyserver addon, which taddons does not load
    egress.ctx.options.add_option("connection_strategy", str, "eager", "", choices=("eager", "lazy"))
    egress.ctx.options.update(connection_strategy="eager")
    assert egress.ctx.options.connection_strategy == "lazy"


def test_placeholder_to_wrong_host(egress):
    flow = egress.send(https_flow(egress, host="github.com", path="/x", headers=[("Authorization", "token bottle-placeholder")]))
    assert blocked(flow, "exfil")


def test_placeholder_in_url_to_wrong_host(egress):
    assert blocked(egress.send(https_flow(egress, host="github.com", path="/x?t=bottle-placeholder", method="GET")), "exfil")


def test_real_token_in_body(egress):
    flow = egress.send(https_flow(egress, host="paste.example.com", path="/", body=f"leak {TOKEN}".encode()))
    assert blocked(flow, "exfil")
    assert TOKEN not in egress.log_file.read_text()


def test_aws_key_in_json_body_block_policy(egress):
    body = json.dumps({"creds": {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE"}}).encode()
    assert blocked(egress.send(https_flow(egress, host="github.com", path="/x", body=body)), "dlp")


def test_aws_key_redact_policy(egress):
    body = json.dumps({"k": "AKIAIOSFODNN7EXAMPLE"}).encode()
    flow = egress.send(https_flow(egress, host="paste.example.com", path="/x", body=body))
    assert flow.response.status_code == 200
    assert b"AKIAIOSFODNN7EXAMPLE" not in flow.request.content and b"[REDACTED]" in flow.request.content
    assert flow.request.headers["content-length"] == str(len(flow.request.content))


def test_aws_key_log_policy_passes_and_is_logged(egress):
    body = json.dumps({"prompt": "AKIAIOSFODNN7EXAMPLE"}).encode()
    flow = egress.send(https_flow(egress, body=body))
    assert flow.response.status_code == 200 and b"AKIAIOSFODNN7EXAMPLE" in flow.request.content
    record = egress.log()[-1]
    assert record["dlp"][0]["kind"] == "AWS Access Key" and "AKIAIOSFODNN7EXAMPLE" not in json.dumps(record)


def test_oversized_body_refused_under_block(egress):
    dlp = next(a for a in egress.addons if type(a).__name__ == "Dlp")
    dlp.max_bytes = 16
    assert blocked(egress.send(https_flow(egress, host="github.com", path="/x", body=b"x" * 64)), "dlp")


def test_git_receive_pack(egress):
    assert blocked(egress.send(https_flow(egress, host="github.com", path="/o/r.git/info/refs?service=git-receive-pack",
                                          method="GET")), "git-push")
    assert blocked(egress.send(https_flow(egress, host="github.com", path="/o/r.git/git-receive-pack",
                                          headers=[("Content-Type", "application/x-git-receive-pack-request")])), "git-push")
    fetch = egress.send(https_flow(egress, host="github.com", path="/o/r.git/info/refs?service=git-upload-pack", method="GET"))
    assert fetch.response.status_code == 200


def _server_connect(egress: Egress, host: str, port: int = 443) -> connection.Server:
    server = connection.Server(address=(host, port))
    data = server_hooks.ServerConnectionHookData(server=server, client=tflow.tclient_conn())
    egress.run(server_hooks.ServerConnectHook(data))
    return server


def test_private_ip_upstream_refused_in_request(egress):
    egress.ssrf.overrides["github.com"] = ipaddress.ip_address("169.254.169.254")
    flow = egress.send(https_flow(egress, host="github.com", path="/x", method="GET"))
    assert blocked(flow, "ssrf")
    assert "169.254.169.254" in flow.response.text


def test_server_connect_pins_checked_address(egress):
    server = _server_connect(egress, "github.com")
    assert server.error is None and server.address == ("140.82.112.3", 443) and server.sni == "github.com"
    egress.run(server_hooks.ServerConnectErrorHook(server_hooks.ServerConnectionHookData(server, tflow.tclient_conn())))
    assert server.address == ("github.com", 443)


@pytest.mark.parametrize("ip", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "fd00:ec2::254", "100.64.1.1", "0.0.0.0"])
def test_server_connect_refuses_internal_addresses(egress, ip):
    egress.ssrf.overrides["github.com"] = ipaddress.ip_address(ip)
    server = _server_connect(egress, "github.com")
    assert server.error and "refused" in server.error


def test_server_connect_honours_allow_cidrs(egress):
    egress.ssrf.overrides["internal.test"] = ipaddress.ip_address("172.30.4.2")
    assert _server_connect(egress, "internal.test").error is None
    egress.ssrf.overrides["internal.test"] = ipaddress.ip_address("172.31.4.2")
    assert _server_connect(egress, "internal.test").error


def test_server_connect_to_ip_literal_refused(egress):
    assert _server_connect(egress, "169.254.169.254", 80).error


def test_introspection_shows_routes_without_secrets(egress):
    flow = egress.send(http_flow("_egress.local", "/routes"))
    assert flow.response.status_code == 200
    table = json.loads(flow.response.content)
    assert [r["host"] for r in table["routes"]] == ["api.anthropic.com", "github.com", "paste.example.com", "internal.test"]
    assert table["routes"][0]["auth"] == {"scheme": "bearer", "token_env": "CLAUDE_CODE_OAUTH_TOKEN", "token_configured": True}
    assert TOKEN not in flow.response.text


def test_decision_log_fields_and_no_token(egress):
    egress.send(https_flow(egress, path="/v1/messages?key=x", headers=[("Authorization", "Bearer bottle-placeholder")]))
    egress.send(https_flow(egress, host="evil.com", path=f"/{TOKEN}"))
    allow, block = egress.log()[-2:]
    assert allow["decision"] == "allow" and allow["route"] == "api.anthropic.com" and allow["path"] == "/v1/messages"
    assert allow["credential"] == "CLAUDE_CODE_OAUTH_TOKEN"
    assert block["decision"] == "block" and block["rule"] == "route"
    for key in ("time", "method", "host", "path", "route", "decision", "reason", "bytes"):
        assert key in allow
    assert TOKEN not in egress.log_file.read_text()


def test_invalid_reload_keeps_old_table(egress):
    reload = next(a for a in egress.addons if type(a).__name__ == "RoutesReload")
    egress.routes_file.write_text("version: 1\nroutes:\n  - host: '*.evil.com'\n    dlp: block\n")
    result = reload.reload()
    assert not result.ok and "routes[0].host" in result.error
    assert egress.state.table.lookup("api.anthropic.com") is not None
    assert egress.send(https_flow(egress, path="/v1/models", method="GET")).response.status_code == 200
    assert egress.log()[-2]["event"] == "reload" and egress.log()[-2]["ok"] is False


def test_valid_reload_applies(egress):
    reload = next(a for a in egress.addons if type(a).__name__ == "RoutesReload")
    egress.routes_file.write_text("version: 1\nroutes:\n  - {host: github.com, dlp: block}\n")
    assert reload.reload().ok
    assert blocked(egress.send(https_flow(egress, path="/v1/models", method="GET")), "route")


def test_missing_routes_file_denies_everything(tmp_path):
    e = Egress(tmp_path)
    e.routes_file.unlink()
    e.state.table = type(e.state.table)()
    reload = next(a for a in e.addons if type(a).__name__ == "RoutesReload")
    assert not reload.reload().ok
    assert blocked(e.send(https_flow(e, path="/v1/models", method="GET")), "route")


def _ws_send(egress: Egress, host: str, content: bytes, from_client: bool = True) -> http.HTTPFlow:
    """An allowed upgrade to ``host``, then one websocket message through the addons."""
    from mitmproxy import websocket
    from mitmproxy.proxy.layers.websocket import WebsocketMessageHook
    from wsproto.frame_protocol import Opcode

    flow = egress.send(https_flow(egress, host=host, path="/v1/socket", method="GET"))
    assert flow.response.status_code == 200
    flow.websocket = websocket.WebSocketData()
    flow.websocket.messages.append(websocket.WebSocketMessage(Opcode.TEXT, from_client, content))
    egress.run(WebsocketMessageHook(flow))
    return flow


def test_a_secret_in_a_websocket_message_is_dropped_and_the_connection_relays_nothing_more(egress):
    from mitmproxy import websocket
    from mitmproxy.proxy.layers.websocket import WebsocketMessageHook
    from wsproto.frame_protocol import Opcode

    key = b'{"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE"}'
    flow = _ws_send(egress, "github.com", key)
    assert flow.websocket.messages[-1].dropped
    assert "AWS Access Key" in flow.metadata["bottle.ws_blocked"]
    [record] = [r for r in egress.log() if r.get("method") == "WEBSOCKET"]
    assert record["decision"] == "block" and record["rule"] == "dlp" and record["host"] == "github.com"
    assert record["dlp"][-1]["kind"] == "AWS Access Key" and "AKIAIOSFODNN7EXAMPLE" not in json.dumps(record)
    for from_client in (True, False):
        flow.websocket.messages.append(websocket.WebSocketMessage(Opcode.TEXT, from_client, b"harmless"))
        egress.run(WebsocketMessageHook(flow))
        assert flow.websocket.messages[-1].dropped


def test_a_bottle_token_in_a_websocket_message_to_another_host_is_refused_under_any_policy(egress):
    flow = _ws_send(egress, "paste.example.com", f"token={TOKEN}".encode())  # dlp: redact
    assert flow.websocket.messages[-1].dropped
    assert "CLAUDE_CODE_OAUTH_TOKEN" in flow.metadata["bottle.ws_blocked"]


def test_websocket_messages_follow_the_routes_redact_and_log_policies(egress):
    key = b"aws = AKIAIOSFODNN7EXAMPLE"
    redacted = _ws_send(egress, "paste.example.com", key)
    assert redacted.websocket.messages[-1].content == b"aws = [REDACTED]"
    logged = _ws_send(egress, "api.anthropic.com", key.replace(b"aws", b"/v1"))
    assert logged.websocket.messages[-1].content.endswith(b"AKIAIOSFODNN7EXAMPLE")
    assert not logged.websocket.messages[-1].dropped
    clean = _ws_send(egress, "github.com", b"hello")
    assert not clean.websocket.messages[-1].dropped and "bottle.ws_blocked" not in clean.metadata
    # What the server sends is not the agent's to leak.
    inbound = _ws_send(egress, "github.com", key, from_client=False)
    assert not inbound.websocket.messages[-1].dropped


def test_a_websocket_message_beyond_the_scan_limit_is_refused_unless_the_route_only_logs(egress):
    dlp = next(a for a in egress.addons if type(a).__name__ == "Dlp")
    dlp.max_bytes = 16
    assert _ws_send(egress, "paste.example.com", b"x" * 64).websocket.messages[-1].dropped  # redact
    assert not _ws_send(egress, "api.anthropic.com", b"x" * 64).websocket.messages[-1].dropped  # log
