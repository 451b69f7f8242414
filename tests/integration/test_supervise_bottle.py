"""Supervise in a real bottle: an MCP client in the agent asks, the operator decides with doit.

The client is a small streamable-HTTP MCP client run by Node inside the agent
container (the same path Claude Code's HTTP MCP client takes).
"""
from __future__ import annotations

import json
import shlex
import threading
import time

import pytest

from tests.integration.bottlekit import CANARY, running_bottle

MCP_URL = "http://supervise:9100/mcp"


@pytest.fixture(scope="module")
def bottle(tmp_path_factory, docker_client, test_run_id):
    with running_bottle(tmp_path_factory.mktemp("sup"), docker_client, test_run_id, "sup") as b:
        b.put_fake("mcp_client.mjs")
        yield b


def mcp(bottle, *args: str) -> dict:
    code, out = bottle.exec(f"node /home/node/mcp_client.mjs {MCP_URL} " + " ".join(shlex.quote(a) for a in args))
    assert code == 0, out
    return json.loads(out.strip().splitlines()[-1])


def call_in_background(bottle, tool: str, arguments: dict) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def run():
        try:
            box["reply"] = mcp(bottle, "call", tool, json.dumps(arguments))
        except AssertionError as exc:  # the client's container went away under it
            box["error"] = str(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def wait_for_proposal(bottle, seen: set[str], timeout: float = 60) -> str:
    queue = bottle.home / f"state/{bottle.agent}/queue"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in queue.glob("*.proposal.json"):
            pid = p.name.split(".")[0]
            if pid not in seen:
                seen.add(pid)
                return pid
        time.sleep(0.3)
    raise AssertionError(f"no new proposal appeared in {queue}")


def test_tools_are_listed(bottle):
    assert set(mcp(bottle, "list")["tools"]) >= {"egress-block", "list-egress-routes", "capability-block"}


def test_approved_route_is_live_for_the_next_request(bottle):
    code, out = bottle.exec(f"curl -s -o /dev/null -w '%{{http_code}}' -m 20 https://{CANARY}/x")
    assert out == "403"
    agent_id = bottle.container("agent").id
    thread, box = call_in_background(bottle, "egress-block", {
        "host": CANARY, "methods": ["GET"], "justification": "the test needs the canary"})
    pid = wait_for_proposal(bottle, set())
    listed = bottle.doit("proposals")
    assert pid in listed.stdout and CANARY in listed.stdout
    result = bottle.doit("approve", "--id", pid, "--note", "ok for the test")
    assert result.returncode == 0, result.stdout + result.stderr
    thread.join(90)
    reply = box["reply"]["result"]
    assert reply["structuredContent"]["outcome"] == "approved", reply
    code, out = bottle.exec(f"curl -sS -m 20 https://{CANARY}/now-approved")
    assert code == 0 and json.loads(out)["host"] == CANARY, out
    assert bottle.container("agent").id == agent_id
    routes = mcp(bottle, "call", "list-egress-routes", "{}")["result"]
    assert CANARY in json.dumps(routes)


def test_denied_proposal_returns_the_reason(bottle):
    thread, box = call_in_background(bottle, "egress-block", {
        "host": "elsewhere.bottle.test", "justification": "want more"})
    pid = wait_for_proposal(bottle, {p.name.split(".")[0] for p in
                                     (bottle.home / f"state/{bottle.agent}/queue").glob("*.proposal.json")
                                     if "elsewhere" not in p.read_text()})
    result = bottle.doit("deny", "--id", pid, "--reason", "not needed for this task")
    assert result.returncode == 0, result.stdout + result.stderr
    thread.join(90)
    reply = box["reply"]["result"]
    assert reply["structuredContent"]["outcome"] == "denied"
    assert "not needed for this task" in json.dumps(reply)


def test_proposal_with_credentials_is_rejected(bottle):
    reply = mcp(bottle, "call", "egress-block", json.dumps({
        "host": "x.bottle.test", "justification": "j", "auth": {"scheme": "bearer", "token_ref": "X"}}))
    assert reply["result"]["isError"] is True


def test_mcp_port_not_reachable_from_the_egress_network(bottle):
    sidecars = bottle.container("sidecars")
    sidecars.reload()
    egress_ip = sidecars.attrs["NetworkSettings"]["Networks"][bottle.egress_network]["IPAddress"]
    probe = ("import socket,sys\n"
             "s=socket.socket(); s.settimeout(3)\n"
             f"sys.stdout.write(str(s.connect_ex(('{egress_ip}', 9100))))")
    r = bottle.fake.exec_run(["/opt/bottle/venv/bin/python", "-c", probe])
    assert r.output.decode() != "0", "the MCP port answers on the egress network"


def test_failed_apply_leaves_routes_unchanged_and_tells_the_agent(bottle):
    routes = bottle.home / f"state/{bottle.agent}/rendered/routes.yaml"
    before = routes.read_text()
    # A proxy that cannot take the reload is a real apply failure.
    code, out = bottle.exec("supervisorctl -c /etc/claude-bottle/supervisord.conf stop egress", user="root",
                            role="sidecars")
    assert code == 0, out
    try:
        queue = bottle.home / f"state/{bottle.agent}/queue"
        seen = {p.name.split(".")[0] for p in queue.glob("*.proposal.json")}
        thread, box = call_in_background(bottle, "egress-block", {
            "host": "late.bottle.test", "justification": "needs it"})
        pid = wait_for_proposal(bottle, seen)
        result = bottle.doit("approve", "--id", pid)
        assert result.returncode != 0
        assert "apply" in (result.stdout + result.stderr).lower()
        thread.join(90)
        reply = box["reply"]["result"]
        assert reply["structuredContent"]["outcome"] == "apply_failed", reply
        assert routes.read_text() == before
        assert "late.bottle.test" not in (bottle.home / f"state/{bottle.agent}/plan.json").read_text()
    finally:
        bottle.exec("supervisorctl -c /etc/claude-bottle/supervisord.conf start egress", user="root",
                    role="sidecars")


def test_approved_capability_rebuilds_the_agent_and_keeps_its_workspace(bottle):
    """Last in the module: approving a capability recreates the agent container."""
    code, out = bottle.exec("echo kept > /workspace/marker && echo kept > /home/node/marker && command -v tree",
                            user="node")
    assert "tree" not in out.splitlines()[-1:] or code != 0
    old_id = bottle.container("agent").id
    queue = bottle.home / f"state/{bottle.agent}/queue"
    seen = {p.name.split(".")[0] for p in queue.glob("*.proposal.json")}
    thread, box = call_in_background(bottle, "capability-block", {
        "apt": ["tree"], "justification": "to show directory layouts"})
    pid = wait_for_proposal(bottle, seen)
    result = bottle.doit("approve", "--id", pid, timeout=1500)
    assert result.returncode == 0, result.stdout + result.stderr
    thread.join(60)
    # The agent heard the decision before its container was replaced.
    assert box["reply"]["result"]["structuredContent"]["outcome"] == "approved", box
    new = bottle.container("agent")
    assert new.id != old_id and new.status == "running"
    code, out = bottle.exec("command -v tree && cat /workspace/marker /home/node/marker")
    assert code == 0 and "/usr/bin/tree" in out and out.count("kept") == 2, out
    audit = (bottle.home / f"state/{bottle.agent}/audit.jsonl").read_text()
    assert pid in audit and "approved" in audit
