"""A real mitmdump with the egress addons between a loopback client and a
loopback HTTPS upstream (throwaway CA). No Docker; every address is 127.0.0.x.

upstream.test  -> 127.0.0.1 (route allows 127.0.0.0/8)
internal.test  -> 127.0.0.2 (route without allow_cidrs: the SSRF guard refuses before dialling)
"""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from bottle_tasks.egress.harness import Mitmdump, Upstream, make_ca, proxy_request

TOKEN = "real-upstream-token-5f2c9a"
PLACEHOLDER = "bottle-placeholder"

ROUTES = """version: 1
routes:
  - host: upstream.test
    path_allowlist: ["/v1/", "/org/repo.git"]
    methods: [GET, POST]
    auth: {scheme: bearer, token_env: UPSTREAM_TOKEN}
    dlp: block
    allow_cidrs: ["127.0.0.0/8"]
  - host: internal.test
    dlp: block
  - host: other.test
    dlp: log
    allow_cidrs: ["127.0.0.0/8"]
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("egress")
    ca = make_ca(tmp / "ca", ("upstream.test", "internal.test", "other.test"))
    with Upstream(ca) as upstream:
        env = {
            "EGRESS_TEST_RESOLVE": "upstream.test=127.0.0.1,internal.test=127.0.0.2,other.test=127.0.0.1",
            "UPSTREAM_TOKEN": TOKEN,
        }
        with Mitmdump(tmp / "mitm", ca.cert_pem, ROUTES, env) as proxy:
            yield proxy, upstream


def https(stack, method="GET", path="/v1/models", *, host="upstream.test", connect_host=None, sni=None,
          host_header=None, headers=None, body=b""):
    proxy, upstream = stack
    port = upstream.port
    return proxy_request(
        proxy.port, method, path,
        connect=(connect_host or host, port), sni=sni,
        host_header=host_header if host_header is not None else f"{host}:{port}",
        client_ca=proxy.client_ca, headers=headers, body=body,
    )


def assert_blocked(resp, rule):
    assert resp.status == 403, resp
    assert resp.headers["X-Bottle-Block-Reason"].startswith(rule + ":"), resp.headers
    assert b"egress-block" in resp.body or rule in ("git-push", "exfil", "fronting")


def test_allowed_request_gets_real_token_and_placeholder_is_gone(stack):
    _, upstream = stack
    before = len(upstream.received)
    resp = https(stack, "POST", "/v1/messages", headers={"Authorization": f"Bearer {PLACEHOLDER}"}, body=b'{"q": 1}')
    assert resp.status == 200
    got = upstream.received[before]
    assert got.path == "/v1/messages"
    assert got.headers["Authorization"] == f"Bearer {TOKEN}"
    assert got.body == b'{"q": 1}'


def test_git_fetch_allowed_push_refused(stack):
    assert https(stack, "GET", "/org/repo.git/info/refs?service=git-upload-pack").status == 200
    assert_blocked(https(stack, "GET", "/org/repo.git/info/refs?service=git-receive-pack"), "git-push")
    assert_blocked(https(stack, "POST", "/org/repo.git/git-receive-pack", body=b"0000"), "git-push")


@pytest.mark.parametrize("path", ["/v1/../secret", "/v1/%2e%2e/secret", "/v1%2Fsecret", "/secret"])
def test_path_attacks_refused(stack, path):
    _, upstream = stack
    before = len(upstream.received)
    assert_blocked(https(stack, "GET", path), "path")
    assert len(upstream.received) == before


def test_host_case_and_trailing_dot_match_the_route(stack):
    _, upstream = stack
    resp = https(stack, connect_host="UPSTREAM.Test.", sni="upstream.test",
                 host_header=f"Upstream.TEST.:{upstream.port}")
    assert resp.status == 200
    assert upstream.received[-1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_lookalike_hosts_do_not_match(stack):
    _, upstream = stack
    before = len(upstream.received)
    for host in ("upstream.test.evil", "xupstream.test", "upstream.tes"):
        assert_blocked(https(stack, host=host), "route")
    # mitmproxy itself rejects an empty label before our addons see it
    assert https(stack, host="upstream.test..", sni="upstream.test").status == 400
    assert len(upstream.received) == before


def test_unknown_host_refused_with_model_facing_body(stack):
    proxy, upstream = stack
    resp = proxy_request(proxy.port, "GET", "/", connect=("nowhere.test", upstream.port),
                         host_header=f"nowhere.test:{upstream.port}", client_ca=proxy.client_ca)
    assert_blocked(resp, "route")
    assert b"supervise" in resp.body and b"nowhere.test" in resp.body


def test_sni_differs_from_host_refused(stack):
    assert_blocked(https(stack, sni="internal.test"), "fronting")


def test_host_header_differs_from_connect_target_refused(stack):
    _, upstream = stack
    assert_blocked(https(stack, host_header=f"internal.test:{upstream.port}"), "fronting")


def test_absolute_url_differs_from_host_refused(stack):
    proxy, upstream = stack
    resp = proxy_request(proxy.port, "GET", "", absolute_url=f"http://upstream.test:{upstream.port}/v1/x",
                         host_header="internal.test")
    assert_blocked(resp, "fronting")


def test_plain_tunnel_refused(stack):
    proxy, upstream = stack
    # CONNECT, then plain HTTP inside: not TLS, so refused.
    import socket
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(f"CONNECT upstream.test:{upstream.port} HTTP/1.1\r\n\r\n".encode())
        assert b" 200 " in sock.recv(4096)
        sock.sendall(f"GET /v1/x HTTP/1.1\r\nHost: upstream.test:{upstream.port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 403") and b"did not carry TLS" in data


def test_trace_refused(stack):
    assert_blocked(https(stack, "TRACE", "/v1/x"), "method")


def test_method_not_in_route_refused(stack):
    assert_blocked(https(stack, "DELETE", "/v1/x"), "method")


def test_placeholder_to_other_host_refused(stack):
    proxy, upstream = stack
    resp = proxy_request(proxy.port, "POST", "/", absolute_url=f"http://other.test:{upstream.port}/",
                         host_header=f"other.test:{upstream.port}", body=f"token={PLACEHOLDER}".encode())
    assert_blocked(resp, "exfil")


def test_real_token_in_body_to_other_host_refused(stack):
    assert_blocked(https(stack, host="other.test", path="/x", body=f"leak {TOKEN}".encode()), "exfil")


def test_aws_key_in_json_body_refused(stack):
    body = json.dumps({"key": "AKIAIOSFODNN7EXAMPLE"}).encode()
    assert_blocked(https(stack, "POST", "/v1/messages", body=body), "dlp")


def test_private_ip_upstream_refused_before_dialling(stack):
    resp = https(stack, host="internal.test", path="/x")
    assert_blocked(resp, "ssrf")
    assert b"127.0.0.2" in resp.body


def test_introspection_lists_routes_without_secrets(stack):
    proxy, _ = stack
    resp = proxy_request(proxy.port, "GET", "", absolute_url="http://_egress.local/routes", host_header="_egress.local")
    assert resp.status == 200
    table = json.loads(resp.body)
    assert [r["host"] for r in table["routes"]] == ["upstream.test", "internal.test", "other.test"]
    assert table["routes"][0]["auth"]["token_env"] == "UPSTREAM_TOKEN"
    assert TOKEN.encode() not in resp.body


def test_decision_log_has_every_request_and_no_token(stack):
    proxy, _ = stack
    https(stack, "GET", "/v1/log-probe")
    time.sleep(0.2)
    text = proxy.decision_log.read_text()
    assert TOKEN not in text
    records = [json.loads(line) for line in text.splitlines()]
    probe = [r for r in records if r.get("path") == "/v1/log-probe"]
    assert probe and probe[0]["decision"] == "allow" and probe[0]["route"] == "upstream.test"
    assert {"time", "method", "host", "path", "route", "decision", "reason", "bytes"} <= probe[0].keys()


def test_sighup_reload_applies_valid_and_keeps_old_on_invalid(stack):
    proxy, _ = stack
    original = proxy.routes_file.read_text()
    try:
        proxy.routes_file.write_text("version: 1\nroutes:\n  - host: upstream.test\n    dlp: sometimes\n")
        os.kill(proxy.proc.pid, signal.SIGHUP)
        time.sleep(0.5)
        assert https(stack, "GET", "/v1/models").status == 200
        rejected = [r for r in proxy.log_lines() if r.get("event") == "reload" and not r["ok"]]
        assert rejected and "dlp" in rejected[-1]["error"]

        proxy.routes_file.write_text(original.replace('["/v1/", "/org/repo.git"]', '["/v2/"]'))
        os.kill(proxy.proc.pid, signal.SIGHUP)
        time.sleep(0.5)
        assert_blocked(https(stack, "GET", "/v1/models"), "path")
        assert https(stack, "GET", "/v2/models").status == 200
    finally:
        proxy.routes_file.write_text(original)
        os.kill(proxy.proc.pid, signal.SIGHUP)
        time.sleep(0.5)
