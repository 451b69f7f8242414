"""The real supervise MCP server, a real MCP client and the real `doit approve` / `doit deny`.

No Docker: the server runs as ``python -m bottle_tasks.supervise.server`` on
127.0.0.1 with a scratch config and queue under a scratch CLAUDE_BOTTLE_HOME;
``list-egress-routes`` reads a real mitmdump running the egress addons on
127.0.0.1. Every address here is loopback.

There is no running bottle for the slug, so an approval's live apply fails
(``bottle_tasks.live`` missing, or reporting the bottle is not running): the
test asserts that the agent then hears exactly that, and that the overlay is
left as it was. The container-level acceptance (approve, then the request
through the proxy succeeds) needs the docker backend.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from mcp import Client

from bottle_tasks.egress.harness import LOOPBACK, Mitmdump, free_port, make_ca, stop_process
from bottle_tasks.supervise.proposals import reply
from tests.conftest import REPO, run_doit

SLUG = "suptest"
TOKEN = "real-canary-token-91c7e2"
ROUTES = """version: 1
routes:
  - host: canary.test
    path_allowlist: ["/v1/"]
    methods: [GET]
    auth: {scheme: bearer, token_env: CANARY_TOKEN}
    dlp: block
  - host: docs.test
    dlp: log
"""


@pytest.fixture(scope="module")
def egress_proxy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("egress")
    ca = make_ca(tmp / "ca", ("canary.test",))
    with Mitmdump(tmp / "mitm", ca.cert_pem, ROUTES, {"CANARY_TOKEN": TOKEN}) as proxy:
        yield proxy


class Served:
    def __init__(self, home: Path, proc: subprocess.Popen, port: int, log: Path):
        self.home, self.proc, self.port, self.log = home, proc, port, log

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/mcp"

    @property
    def queue(self) -> Path:
        return self.home / "state" / SLUG / "queue"

    def doit(self, *args: str) -> subprocess.CompletedProcess:
        return run_doit(*args, env={"CLAUDE_BOTTLE_HOME": str(self.home)}, timeout=300)

    def files(self, pid: str) -> tuple[dict, dict]:
        return (json.loads((self.queue / f"{pid}.proposal.json").read_text()),
                json.loads((self.queue / f"{pid}.decision.json").read_text()))

    def audit(self) -> list[dict]:
        path = self.home / "state" / SLUG / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def serve(tmp_path, egress_proxy):
    started: list[Served] = []

    def start(timeout_seconds: int) -> Served:
        home = tmp_path / f"home{len(started)}"
        port = free_port()
        config = {"slug": SLUG, "listen_host": LOOPBACK, "port": port,
                  "queue_dir": str(home / "state" / SLUG / "queue"), "timeout_seconds": timeout_seconds,
                  "egress_introspect_url": "http://_egress.local/routes",
                  "egress_proxy": f"http://{LOOPBACK}:{egress_proxy.port}"}
        (tmp_path / "supervise.json").write_text(json.dumps(config))
        log = tmp_path / f"supervise{len(started)}.log"
        env = {**os.environ, "CLAUDE_BOTTLE_HOME": str(home), "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen([sys.executable, "-m", "bottle_tasks.supervise.server",
                                 "--config", str(tmp_path / "supervise.json")],
                                cwd=REPO, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        served = Served(home, proc, port, log)
        started.append(served)
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"supervise server exited: {log.read_text()}")
            try:
                with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return served
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"supervise server did not answer on {LOOPBACK}:{port}: {log.read_text()}")
            time.sleep(0.1)

    yield start
    for served in started:
        stop_process(served.proc)


async def _wait_for_proposal(queue: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = [p.name for p in queue.glob("*.proposal.json")] if queue.is_dir() else []
        if names:
            return names[0].split(".")[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no proposal appeared in {queue}")


def _text(result) -> str:
    assert len(result.content) == 1
    return result.content[0].text


@pytest.mark.parametrize("mode", ["legacy", "auto"])  # legacy: the initialize handshake Claude Code uses
def test_tools_are_listed_with_closed_input_schemas(serve, mode):
    served = serve(60)

    async def scenario():
        async with Client(served.url, mode=mode) as client:
            return (await client.list_tools()).tools

    tools = {t.name: t for t in asyncio.run(scenario())}
    assert set(tools) == {"egress-block", "capability-block", "list-egress-routes"}
    assert tools["egress-block"].input_schema["required"] == ["host", "justification"]
    assert all(t.input_schema["additionalProperties"] is False for t in tools.values())


def test_list_egress_routes_shows_the_live_table_without_secrets(serve):
    served = serve(60)

    async def scenario():
        async with Client(served.url) as client:
            return await client.call_tool("list-egress-routes", {})

    result = asyncio.run(scenario())
    assert result.is_error is False
    assert result.structured_content == {"routes": [
        {"host": "canary.test", "path_prefixes": ["/v1/"], "methods": ["GET"], "credentials_injected_by_proxy": True},
        {"host": "docs.test", "path_prefixes": "any", "methods": "any", "credentials_injected_by_proxy": False},
    ]}
    assert TOKEN not in _text(result) and "CANARY_TOKEN" not in _text(result)


def test_credential_fields_and_bad_hosts_are_refused_and_nothing_is_queued(serve):
    served = serve(60)

    async def scenario():
        async with Client(served.url) as client:
            auth = await client.call_tool("egress-block", {
                "host": "canary.test", "justification": "needs the API",
                "auth": {"scheme": "bearer", "token_env": "CANARY_TOKEN"}})
            url = await client.call_tool("egress-block", {"host": "https://api.example.com/v1/models",
                                                          "justification": "needs the API"})
            return auth, url

    auth, url = asyncio.run(scenario())
    assert auth.is_error is True and auth.structured_content == {"outcome": "invalid"}
    assert "argument 'auth' is refused: a proposal cannot carry auth, tokens, headers or any other credential" \
        in _text(auth)
    assert url.is_error is True
    assert ('host \'https://api.example.com/v1/models\' must be a bare hostname, not a URL (drop the scheme); '
            'use "host": "api.example.com" and "path_prefixes": ["/v1/models"]') in _text(url)
    assert not served.queue.exists() or list(served.queue.iterdir()) == []


def test_egress_block_waits_for_doit_approve_and_reports_the_apply(serve):
    served = serve(120)

    async def scenario():
        async with Client(served.url, mode="legacy") as client:
            call = asyncio.create_task(client.call_tool("egress-block", {
                "host": "Canary2.test", "path_prefixes": ["/v2/"], "methods": ["get"],
                "justification": "the task reads the v2 listing"}))
            pid = await _wait_for_proposal(served.queue)
            assert not call.done()  # still blocked on the operator
            done = await asyncio.to_thread(served.doit, "approve", "--id", pid, "--note", "go ahead")
            return pid, done, await asyncio.wait_for(call, 60)

    pid, done, result = asyncio.run(scenario())
    proposal, decision = served.files(pid)
    assert proposal["route"] == {"host": "canary2.test", "path_allowlist": ["/v2/"], "methods": ["GET"]}
    assert _text(result) == reply(proposal, decision)
    assert result.structured_content["outcome"] == decision["outcome"]
    [record] = served.audit()
    assert record["outcome"] == decision["outcome"] and record["proposal"] == proposal
    overlay = served.home / "state" / SLUG / "overlay.json"
    if decision["outcome"] == "approved":  # only once a bottle for the slug can be applied to
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(overlay.read_text())["egress"]["routes"] == [proposal["route"]]
        assert _text(result).startswith(f"Approved by the operator (proposal {pid}): canary2.test (/v2/; GET)")
    else:
        assert decision["outcome"] == "apply_failed"
        assert done.returncode != 0
        assert f"approved {SLUG}/{pid}, but applying it failed, so nothing changed" in done.stdout + done.stderr
        assert decision["error"] in done.stdout + done.stderr
        assert result.is_error is True
        assert _text(result) == (f"The operator approved proposal {pid}, but applying it failed, so nothing "
                                 f"changed: {decision['error']}\nTell the user; retrying the request will be "
                                 "blocked as before.")
        assert not overlay.exists()
        assert record["overlay_rolled_back"] is True


def test_deny_returns_the_reason_to_the_agent(serve):
    served = serve(120)

    async def scenario():
        async with Client(served.url) as client:
            call = asyncio.create_task(client.call_tool("egress-block", {
                "host": "uploads.example.com", "methods": ["POST"], "justification": "upload the report"}))
            pid = await _wait_for_proposal(served.queue)
            done = await asyncio.to_thread(served.doit, "deny", "--id", pid, "--reason",
                                           "uploads leave the bottle; write the report to the workspace")
            return pid, done, await asyncio.wait_for(call, 60)

    pid, done, result = asyncio.run(scenario())
    assert done.returncode == 0, done.stdout + done.stderr
    assert result.is_error is False
    assert result.structured_content == {"outcome": "denied", "id": pid,
                                         "reason": "uploads leave the bottle; write the report to the workspace"}
    assert _text(result) == (f"Denied by the operator (proposal {pid}). Reason: uploads leave the bottle; write "
                             "the report to the workspace\nDo not retry the same request; adapt your approach "
                             "or ask the user.")
    assert not (served.home / "state" / SLUG / "overlay.json").exists()
    assert [r["outcome"] for r in served.audit()] == ["denied"]


def test_timeout_leaves_the_proposal_pending_and_a_retry_gets_the_later_decision(serve):
    served = serve(1)
    args = {"apt": ["jq"], "justification": "the tests parse JSON with jq"}

    async def call():
        async with Client(served.url) as client:
            return await client.call_tool("capability-block", args)

    first = asyncio.run(call())
    pid = first.structured_content["id"]
    assert first.is_error is False and first.structured_content == {"outcome": "pending", "id": pid}
    assert _text(first) == (f"No decision yet: proposal {pid} (apt: jq) is still waiting for the operator after 1s. "
                            "It stays in the queue; call capability-block again with the same arguments to keep "
                            "waiting for it, or carry on with other work meanwhile.")
    listed = served.doit("proposals")
    assert listed.returncode == 0 and f"{SLUG}  {pid}  capability-block" in listed.stdout
    assert "justification: the tests parse JSON with jq" in listed.stdout

    second = asyncio.run(call())  # still undecided: waits on the same proposal, no duplicate
    assert second.structured_content == {"outcome": "pending", "id": pid}
    assert len(list(served.queue.glob("*.proposal.json"))) == 1

    assert served.doit("deny", "--id", pid, "--reason", "use python -m json.tool").returncode == 0
    third = asyncio.run(call())
    assert third.structured_content == {"outcome": "denied", "id": pid, "reason": "use python -m json.tool"}
    history = served.doit("proposals", "--all")
    assert f"{SLUG}  {pid}  capability-block  denied" in history.stdout
    assert "no pending proposals" in history.stdout


def test_requests_naming_another_host_are_refused(serve):
    served = serve(60)
    request = urllib.request.Request(served.url, method="POST", data=b"{}",
                                     headers={"Host": "attacker.example:80", "Content-Type": "application/json",
                                              "Accept": "application/json, text/event-stream"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 421
