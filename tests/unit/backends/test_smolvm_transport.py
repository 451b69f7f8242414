"""The docker backend's provisioning steps, run over smolvm machine cp/exec (stub smolvm)."""
from __future__ import annotations

import json

from bottle_tasks.backends.smolmachines import SmolvmTransport
from bottle_tasks.provision import provision_steps
from tests.integration.smolvm_stub import install_stub, stub_env


def test_provision_steps_become_smolvm_cp_and_exec(bottle_home, tmp_path, monkeypatch):
    from tests.unit.test_plan import researcher_plan
    install_stub(tmp_path / "bin")
    log = tmp_path / "smolvm.log"
    for key, value in stub_env(tmp_path / "bin", log).items():
        monkeypatch.setenv(key, value)
    plan = researcher_plan(backend="smolmachines")

    provision_steps(SmolvmTransport("claude-bottle-researcher"), plan, b"-----BEGIN CERTIFICATE-----\n", "")

    calls = [json.loads(line) for line in log.read_text().splitlines()]
    cps = [c for c in calls if c[:2] == ["machine", "cp"]]
    ca = next(c for c in cps if c[3] == "claude-bottle-researcher:/etc/ssl/certs/claude-bottle-ca.pem")
    assert ca[ca.index("--uid") + 1] == "0" and ca[ca.index("--mode") + 1] == "644"
    prompt = next(c for c in cps if c[3].endswith("/home/node/.claude-bottle/prompt.md"))
    assert prompt[prompt.index("--uid") + 1] == "1000"
    execs = [c[c.index("--") + 1:] for c in calls if c[:2] == ["machine", "exec"]]
    assert any(e[:2] == ["sh", "-ec"] and "ca-certificates.crt" in e[2] for e in execs)
    mcp = [e for e in execs if "mcp" in e and "add" in e]
    assert mcp and mcp[0][:6] == ["runuser", "-u", "node", "--", "env", "HOME=/home/node"]
