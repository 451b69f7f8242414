"""The docker backend end to end: a real bottle, attacked from inside its agent container.

One bottle is brought up for the module (real images, real compose, real
mitmproxy). Its upstreams are our own containers on the bottle's egress
network: a fake ``api.anthropic.com`` that checks the injected token, and a
canary. Nothing here sends traffic anywhere else.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from bottle_tasks import labels
from tests.integration.bottlekit import CANARY, running_bottle, write_bottle

@pytest.fixture(scope="module")
def bottle(tmp_path_factory, docker_client, test_run_id):
    with running_bottle(tmp_path_factory.mktemp("e2e"), docker_client, test_run_id, "e2e") as b:
        yield b


def agent_exec(bottle, script: str, user: str = "node") -> tuple[int, str]:
    return bottle.exec(script, user=user)


def test_both_services_run(bottle):
    found = bottle.docker.containers.list(filters=labels.managed_filter(bottle.agent))
    roles = {c.labels[labels.ROLE]: c.status for c in found if c.labels.get(labels.ROLE) in ("agent", "sidecars")}
    assert roles == {"agent": "running", "sidecars": "running"}


def test_agent_holds_no_real_token(bottle):
    code, out = agent_exec(bottle, "printenv; cat /proc/1/environ 2>/dev/null | tr '\\0' '\\n'")
    assert code == 0
    assert bottle.token not in out
    assert "CLAUDE_CODE_OAUTH_TOKEN=bottle-placeholder" in out


def test_non_route_host_gets_the_block_body(bottle):
    code, out = agent_exec(bottle, f"curl -sS -m 20 -D - https://{CANARY}/anything")
    assert code == 0, out
    assert "403" in out.splitlines()[2] or " 403" in out
    assert "x-bottle-block-reason: route" in out.lower()
    assert "egress-block" in out


def test_direct_connection_to_canary_fails_to_connect(bottle):
    ip = bottle.fake_ip()
    code, out = agent_exec(bottle, f"curl -sS --noproxy '*' -m 10 --connect-timeout 5 https://{ip}/ -k")
    # The internal network drops anything not addressed to the bundle: the TCP
    # handshake never completes (7: refused/unreachable, 28: connect timed out).
    assert code in (7, 28), out
    assert "Connection timed out" in out or "Failed to connect" in out or "Couldn't connect" in out


def test_dns_from_agent_cannot_leave(bottle):
    code, out = agent_exec(bottle, "getent hosts egress >/dev/null && echo alias-ok; "
                                   f"getent hosts {CANARY} || echo no-external-dns")
    assert "alias-ok" in out and "no-external-dns" in out


def test_https_to_route_host_gets_real_token_injected(bottle):
    code, out = agent_exec(bottle, "curl -sS -m 30 -X POST -H 'Authorization: Bearer bottle-placeholder' "
                                   "-d '{}' https://api.anthropic.com/v1/messages")
    assert code == 0, out
    assert json.loads(out)["auth_ok"] is True
    last = bottle.fake_requests()[-1]
    assert last["path"] == "/v1/messages" and last["auth_ok"] and not last["placeholder_seen"]


def test_agent_hardening(bottle):
    code, out = agent_exec(bottle, "touch /usr/bin/pwned")
    assert code != 0 and "Read-only file system" in out
    code, out = agent_exec(bottle, "grep CapEff /proc/self/status")
    assert out.split()[-1] == "0000000000000000"
    code, out = agent_exec(bottle, "grep CapEff /proc/self/status", user="root")
    assert out.split()[-1] == "0000000000000000"
    code, out = agent_exec(bottle, "ls /var/run/docker.sock; command -v sudo || echo no-sudo")
    assert "No such file" in out and "no-sudo" in out


def test_only_the_service_ports_are_open_on_the_sidecars(bottle):
    script = r"""
const net = require('net');
const dns = require('dns');
dns.lookup('egress', (err, ip) => {
  const open = []; let next = 1, active = 0;
  const pump = () => {
    while (active < 400 && next <= 65535) {
      const port = next++; active++;
      const s = net.connect({host: ip, port});
      s.setTimeout(1500);
      const done = (ok) => { if (ok) open.push(port); s.destroy(); active--; if (next > 65535 && active === 0) { console.log(JSON.stringify(open.sort((a,b)=>a-b))); } else pump(); };
      s.on('connect', () => done(true)); s.on('error', () => done(false)); s.on('timeout', () => done(false));
    }
  };
  pump();
});
"""
    code, out = agent_exec(bottle, f"node -e {shlex.quote(script)}")
    assert code == 0, out
    conf = (bottle.home / f"state/{bottle.agent}/rendered/supervisord.conf").read_text()
    from bottle_tasks.sidecar import DAEMONS
    from bottle_tasks.sidecar.health import configured_daemons
    expected = sorted(DAEMONS[d] for d in configured_daemons(conf))
    assert json.loads(out.strip().splitlines()[-1]) == expected


def test_mcp_server_cannot_reach_the_real_token(bottle):
    """The supervise server parses the agent's requests: as its user, try to get at the token."""
    _, egress_pid = bottle.exec("pgrep -o -f bin/mitmdump", user="root", role="sidecars")
    _, supervise_pid = bottle.exec("pgrep -o -f supervise.server", user="root", role="sidecars")
    assert egress_pid.strip() and supervise_pid.strip()
    code, own = bottle.exec(f"cat /proc/{supervise_pid.strip()}/environ", user="supervise", role="sidecars")
    assert code == 0 and "PATH=" in own and bottle.token not in own and "CLAUDE_CODE_OAUTH_TOKEN" not in own
    code, out = bottle.exec(f"cat /proc/{egress_pid.strip()}/environ", user="supervise", role="sidecars")
    assert code != 0 and "Permission denied" in out and bottle.token not in out


def test_second_start_runs_no_build_render_or_up(bottle):
    result = bottle.doit(f"start:{bottle.agent}")
    assert result.returncode == 0, result.stdout + result.stderr
    executed = [l[3:] for l in result.stdout.splitlines() if l.startswith(".  ")]
    assert not [t for t in executed if t.split(":")[0] in ("build", "render", "up", "ca", "provision")], executed
    assert "Attach from a terminal" in result.stdout


def test_route_change_applies_live_without_restarting_the_agent(bottle):
    agent = bottle.docker.containers.get(f"claude-bottle-{bottle.agent}-agent")
    before = agent.id
    write_bottle(bottle.home, [{"host": CANARY, "methods": ["GET"]}])
    result = bottle.doit(f"provision:{bottle.agent}")
    assert result.returncode == 0, result.stdout + result.stderr
    executed = [l[3:] for l in result.stdout.splitlines() if l.startswith(".  ")]
    assert not [t for t in executed if t.startswith("build")], executed
    assert f"render:{bottle.agent}" in executed
    assert "reloaded" in result.stdout
    agent.reload()
    assert agent.id == before and agent.status == "running"
    code, out = agent_exec(bottle, f"curl -sS -m 20 https://{CANARY}/now-allowed")
    assert code == 0 and json.loads(out)["host"] == CANARY, out


def test_headless_prompt_runs_claude_code_through_the_proxy(bottle):
    before = len(bottle.fake_requests())
    result = bottle.doit(f"prompt:{bottle.agent}", "--text", "Reply with the word you are given.", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BOTTLE-OK" in result.stdout
    saved = list((bottle.home / f"state/{bottle.agent}/prompts").glob("*.txt"))
    assert saved and "BOTTLE-OK" in saved[0].read_text()
    calls = [r for r in bottle.fake_requests()[before:] if r["path"].startswith("/v1/messages")]
    assert calls and all(r["auth_ok"] and not r["placeholder_seen"] for r in calls)


def test_resume_continues_the_last_conversation(bottle):
    marker = f"remember the code word {bottle.run_id}"
    first = bottle.doit(f"prompt:{bottle.agent}", "--text", marker, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    before = len(bottle.fake_requests())
    again = bottle.doit(f"prompt:{bottle.agent}", "--resume", "--text", "what was the code word?", timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    calls = [r for r in bottle.fake_requests()[before:] if r["path"].startswith("/v1/messages")]
    texts = [" ".join(r.get("user_texts", [])) for r in calls]
    assert any(marker in t and "what was the code word?" in t for t in texts), texts
    # Without --resume a prompt starts afresh.
    before = len(bottle.fake_requests())
    fresh = bottle.doit(f"prompt:{bottle.agent}", "--text", "a new conversation", timeout=300)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    texts = [" ".join(r.get("user_texts", [])) for r in bottle.fake_requests()[before:]
             if r["path"].startswith("/v1/messages")]
    assert any("a new conversation" in t for t in texts) and not any(marker in t for t in texts), texts


def test_shell_runs_as_the_agent_in_its_workspace(bottle):
    result = bottle.doit(f"shell:{bottle.agent}", "--cmd", "id -un; pwd; echo $HTTPS_PROXY")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "node\n/workspace\nhttp://egress:9099" in result.stdout
    failed = bottle.doit(f"shell:{bottle.agent}", "--cmd", "exit 7")
    assert failed.returncode != 0 and "exited with status 7" in failed.stdout + failed.stderr
    interactive = bottle.doit(f"shell:{bottle.agent}")  # no terminal here: it says how to get one
    assert interactive.returncode == 0 and f"claude-bottle-{bottle.agent}-agent bash -l" in interactive.stdout


def test_logs_show_decisions_and_container_output(bottle):
    result = bottle.doit(f"logs:{bottle.agent}", "--tail", "200")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "== egress decisions" in result.stdout
    assert f"block GET {CANARY}/anything" in result.stdout
    assert "sidecars" in result.stdout.split("== containers", 1)[1]
    assert bottle.token not in result.stdout


def test_claude_code_onboarding_is_done(bottle):
    code, out = agent_exec(bottle, "cat /home/node/.claude.json")
    config = json.loads(out)
    assert config["hasCompletedOnboarding"] is True
    assert config["projects"]["/workspace"]["hasTrustDialogAccepted"] is True
    assert "supervise" in json.dumps(config.get("mcpServers", {}))


def test_active_lists_every_running_bottle_each_its_own_project(bottle):
    second = f"{bottle.agent}-two"
    (bottle.home / f"agents/{second}.md").write_text("---\nbottle: e2e\n---\nA second agent.\n")
    try:
        result = bottle.doit(f"up:{second}")
        assert result.returncode == 0, result.stdout + result.stderr
        result = bottle.doit("active")
        assert result.returncode == 0
        for agent in (bottle.agent, second):
            line = next(l for l in result.stdout.splitlines() if l.split()[1:2] == [agent])
            assert "docker" in line and "running" in line and "agent:running" in line and "sidecars:running" in line
        projects = {c.labels.get("com.docker.compose.project") for c in bottle.docker.containers.list()
                    if c.labels.get("dev.claude-bottle.slug") in (bottle.agent, second)}
        assert {f"claude-bottle-{bottle.agent}", f"claude-bottle-{second}"} <= projects
    finally:
        bottle.doit(f"stop:{second}")
        for v in bottle.docker.volumes.list(filters={"label": f"dev.claude-bottle.slug={second}"}):
            v.remove(force=True)
        (bottle.home / f"agents/{second}.md").unlink()


def test_cleanup_removes_orphans_and_keeps_live_busy_and_preserved(bottle, test_run_id):
    docker = bottle.docker
    state = bottle.home / "state"
    (state / "kept-crash").mkdir(parents=True)
    (state / "kept-crash/.preserve").touch()
    (state / "stale").mkdir(parents=True)
    (state / "busy").mkdir(parents=True)
    image = bottle.fake.image.tags[0]

    def stray(name: str, **extra: str):
        return docker.containers.create(image, ["true"], entrypoint=[], name=f"claude-bottle-test-{test_run_id}-{name}",
                                        labels={**labels.managed_labels(**extra), "dev.claude-bottle.test": test_run_id})

    orphan = stray("orphan", slug="stale", role="agent")
    starting = stray("starting", slug="busy", role="sidecars")  # another run is half way through up
    pipeline_live = stray("registry-live", role="pipeline-registry", **{labels.OWNER_PID: str(os.getpid())})
    pipeline_dead = stray("registry-dead", role="pipeline-registry", **{labels.OWNER_PID: "999999999"})
    holder = subprocess.Popen([sys.executable, "-c",
                               "import fcntl,sys,time; f=open(sys.argv[1],'w'); fcntl.flock(f, fcntl.LOCK_EX); "
                               "print('locked', flush=True); time.sleep(120)", str(state / "busy/.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = bottle.doit("cleanup", "--yes")
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 0, result.stdout + result.stderr
    names = {c.name for c in docker.containers.list(all=True)}
    assert orphan.name not in names and pipeline_dead.name not in names
    assert starting.name in names and pipeline_live.name in names
    assert f"claude-bottle-{bottle.agent}-agent" in names
    assert f"claude-bottle-{bottle.agent}-sidecars" in names
    assert (state / "kept-crash").is_dir() and (state / "busy").is_dir() and not (state / "stale").exists()
    assert (state / bottle.agent).is_dir()
    starting.remove(force=True)
    pipeline_live.remove(force=True)


def test_stop_saves_logs_and_start_resumes_with_state(bottle):
    agent = bottle.agent
    code, out = agent_exec(bottle, "echo session > /home/node/.claude/resume-marker && echo work > /workspace/w")
    assert code == 0, out
    old_id = bottle.container("agent").id
    result = bottle.doit(f"stop:{agent}")
    assert result.returncode == 0, result.stdout + result.stderr
    log = bottle.home / f"state/{agent}/compose.log"
    assert log.exists() and "sidecars" in log.read_text()
    names = {c.name for c in bottle.docker.containers.list(all=True)}
    assert f"claude-bottle-{agent}-agent" not in names
    volumes = {v.name for v in bottle.docker.volumes.list()}
    assert f"claude-bottle-{agent}-home" in volumes
    assert bottle.token not in log.read_text()

    result = bottle.doit(f"start:{agent}")
    assert result.returncode == 0, result.stdout + result.stderr
    executed = [l[3:] for l in result.stdout.splitlines() if l.startswith(".  ")]
    assert f"up:{agent}" in executed and f"provision:{agent}" in executed
    assert not [t for t in executed if t.startswith("build")], executed
    assert bottle.container("agent").id != old_id
    code, out = agent_exec(bottle, "cat /home/node/.claude/resume-marker /workspace/w")
    assert code == 0 and "session" in out and "work" in out, out
