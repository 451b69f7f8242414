"""The preflight says which OCI runtime the agent gets, asking the real daemon."""
from __future__ import annotations

from tests.conftest import run_doit


def test_preflight_names_the_agent_runtime_and_why(bottle_home, docker_client):
    result = run_doit("plan:researcher", env={"CLAUDE_CODE_OAUTH_TOKEN": "x"})
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(l for l in result.stdout.splitlines() if l.strip().startswith("runtime"))
    runtimes = docker_client.info().get("Runtimes") or {}
    if "runsc" not in runtimes:
        assert "runc (warning: gVisor (runsc) is not registered" in line
    else:
        assert "runsc" in line or "trial container failed" in line or "tried once the agent image exists" in line
