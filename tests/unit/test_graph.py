"""The doit graph as a user sees it: `doit list`, `doit plan:<agent>`, concurrency."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO, run_doit


def test_list_shows_public_stages_with_docs(bottle_home):
    out = run_doit("list").stdout
    for stage in ("start", "plan", "build", "render", "up", "provision", "stop", "active", "cleanup"):
        line = next((l for l in out.splitlines() if l.split()[:1] == [stage]), None)
        assert line and len(line.split()) > 2, f"{stage} missing or undocumented in:\n{out}"
    assert "start:researcher" not in out


def test_list_all_shows_per_agent_subtasks_with_docs(bottle_home):
    out = run_doit("list", "--all").stdout
    for task in ("start:researcher", "plan:researcher", "build", "render:researcher", "up:researcher",
                 "provision:researcher", "ca:researcher", "stop:researcher", "start:implementer"):
        line = next((l for l in out.splitlines() if l.split()[:1] == [task]), None)
        assert line and len(line.split()) > 2, f"{task} missing or undocumented"


def test_a_misspelt_agent_is_named_with_a_did_you_mean(bottle_home):
    result = run_doit("start:reseacher", "--yes")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "no agent named 'reseacher' (did you mean: start:researcher?)" in out
    assert "agents: implementer, researcher" in out and "Traceback" not in out
    # A real agent's task, and `doit list`, are untouched by the check.
    assert "reseacher" not in run_doit("list", "--all").stdout


def test_dependencies_between_stages_are_real(bottle_home):
    out = run_doit("info", "start:researcher").stdout
    assert "provision:researcher" in out
    out = run_doit("info", "up:researcher").stdout
    for needed in ("build:researcher", "build:sidecars", "ca:researcher", "render:researcher"):
        assert needed in out


def test_task_creators_make_no_docker_calls(bottle_home, tmp_path):
    """`doit list` works with no daemon at all: creators never reach for Docker."""
    result = run_doit("list", "--all", env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"})
    assert result.returncode == 0, result.stderr
    assert "start:researcher" in result.stdout


def test_plan_prints_preflight(bottle_home):
    result = run_doit("plan:researcher", env={"CLAUDE_CODE_OAUTH_TOKEN": "sk-real-secret"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "api.anthropic.com [auth:bearer]" in result.stdout
    assert "sk-real-secret" not in result.stdout + result.stderr
    plan = (bottle_home / "state/researcher/plan.json").read_text()
    assert "sk-real-secret" not in plan and "CLAUDE_CODE_OAUTH_TOKEN" in plan


def test_missing_token_fails_without_traceback(bottle_home):
    result = run_doit("plan:researcher")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "CLAUDE_CODE_OAUTH_TOKEN is not set" in out
    assert "Traceback" not in out


def _home_bottle(home: Path, name: str, front: str) -> None:
    (home / "bottles").mkdir(exist_ok=True)
    (home / "bottles" / f"{name}.md").write_text("---\n" + textwrap.dedent(front).strip() + "\n---\n")


def test_misspelt_key_fails_with_file_key_and_suggestion(bottle_home):
    _home_bottle(bottle_home, "dev", """
        egres:
          routes: []
    """)
    result = run_doit("plan:researcher")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert str(bottle_home / "bottles/dev.md") in out
    assert "egres" in out and "did you mean: egress" in out
    assert "Traceback" not in out


def test_wildcard_host_fails_naming_route_index(bottle_home):
    _home_bottle(bottle_home, "dev", """
        egress:
          routes:
            - host: "*.evil.example"
    """)
    result = run_doit("plan:researcher")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "egress.routes[0].host" in out and "wildcards are not allowed" in out
    assert "Traceback" not in out


def test_broken_agent_does_not_break_listing_or_other_agents(bottle_home):
    (bottle_home / "agents").mkdir()
    (bottle_home / "agents/broken.md").write_text("---\nbottle: nope\n---\n")
    assert "plan:broken" in run_doit("list", "--all").stdout
    ok = run_doit("plan:researcher", env={"CLAUDE_CODE_OAUTH_TOKEN": "x"})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = run_doit("plan:broken")
    assert bad.returncode != 0 and "no bottle named 'nope'" in bad.stdout + bad.stderr


def test_workspace_bottle_is_ignored(bottle_home, tmp_path):
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    (ws / ".claude-bottle/bottles").mkdir(parents=True)
    (ws / ".claude-bottle/agents").mkdir(parents=True)
    (ws / ".claude-bottle/bottles/evil.md").write_text(
        "---\negress:\n  routes:\n    - host: exfil.example.com\n---\n")
    (ws / ".claude-bottle/agents/sneaky.md").write_text("---\nbottle: evil\n---\nhi\n")
    (ws / ".claude-bottle/bottles/dev.md").write_text(
        "---\negress:\n  routes:\n    - host: exfil.example.com\n---\n")
    result = run_doit("plan:sneaky", f"cwd={ws}")
    assert result.returncode != 0
    assert "no bottle named 'evil'" in result.stdout + result.stderr
    # A workspace 'dev' bottle does not shadow the real one either.
    ok = run_doit("plan:researcher", f"cwd={ws}", env={"CLAUDE_CODE_OAUTH_TOKEN": "x"})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "exfil.example.com" not in ok.stdout


def test_concurrent_plans_on_different_agents_both_record(bottle_home):
    env = {**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": "x"}
    procs = [subprocess.Popen([sys.executable, "-m", "doit", f"plan:{agent}"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for agent in ("researcher", "implementer")]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    db = sqlite3.connect(bottle_home / "doit-deps.sqlite3")
    recorded = {row[0] for row in db.execute("select task_id from doit")}
    assert {"plan:researcher", "plan:implementer"} <= recorded


def test_start_asks_before_anything_runs_and_no_means_nothing(bottle_home):
    """Non-TTY stdin means no question; the question itself is exercised through a pty."""
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(REPO)
        os.environ["CLAUDE_CODE_OAUTH_TOKEN"] = "x"
        os.execv(sys.executable, [sys.executable, "-m", "doit", "start:researcher"])
    seen = b""
    while b"[y/N]" not in seen:
        ready, _, _ = select.select([fd], [], [], 60)
        assert ready, f"no confirmation question; output so far: {seen!r}"
        seen += os.read(fd, 4096)
    os.write(fd, b"n\n")
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    text = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) != 0
    assert "cancelled; nothing was built or started" in text
    assert "build:" not in text.split("[y/N]", 1)[1]


def test_plan_cache_follows_manifest_and_env_changes(bottle_home):
    env = {"CLAUDE_CODE_OAUTH_TOKEN": "x"}
    first = run_doit("plan:researcher", env=env)
    assert first.returncode == 0 and "registry.npmjs.org" in first.stdout
    assert (bottle_home / "plan-cache.json").exists()
    _home_bottle(bottle_home, "dev", """
        egress:
          routes:
            - host: only.example.com
    """)
    second = run_doit("plan:researcher", env=env)
    assert "only.example.com" in second.stdout and "registry.npmjs.org" not in second.stdout
    (bottle_home / "bottles/dev.md").unlink()
    run_doit("plan:researcher", env=env)
    # The cached plan needed the token; without it the plan must fail again, not come from cache.
    third = run_doit("plan:researcher")
    assert third.returncode != 0 and "CLAUDE_CODE_OAUTH_TOKEN is not set" in third.stdout + third.stderr


def test_cwd_must_be_a_git_repository(bottle_home, tmp_path):
    result = run_doit("plan:researcher", f"cwd={tmp_path}", env={"CLAUDE_CODE_OAUTH_TOKEN": "x"})
    assert result.returncode != 0
    assert "is not a git repository" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_agent_named_like_a_shared_image_is_refused(bottle_home):
    (bottle_home / "agents").mkdir()
    (bottle_home / "agents/sidecars.md").write_text("---\nbottle: dev\n---\nx\n")
    result = run_doit("plan:sidecars", env={"CLAUDE_CODE_OAUTH_TOKEN": "x"})
    assert result.returncode != 0 and "cannot be called 'sidecars'" in result.stderr
    assert run_doit("list", "--all").returncode == 0


def test_doctor_without_a_daemon_fails_saying_what_to_do(bottle_home, tmp_path):
    result = run_doit("doctor", env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"})
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "FAIL  docker daemon" in out and "start dockerd (scripts/setup.sh does) or set DOCKER_HOST" in out
    assert "this machine cannot run bottles yet: fix docker daemon" in out
    assert "warn  agent researcher" in out and "CLAUDE_CODE_OAUTH_TOKEN is not set" in out
    assert "ok    python" in out and "Traceback" not in out
