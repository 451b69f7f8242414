"""Choosing the smolmachines backend where it cannot run, and the launch path that needs smolvm."""
from __future__ import annotations

import shutil

import pytest

from bottle_tasks.backends import availability
from tests.conftest import run_doit
from tests.integration.conftest import image_env, write_agent, write_bottle


@pytest.fixture
def scratch(tmp_path):
    home, cache = tmp_path / "home", tmp_path / "cache"
    write_bottle(home, "plain")
    write_agent(home, "vm", "plain")
    # PATH without any smolvm: this machine's own, minus nothing (smolvm is not installable here).
    return image_env(home, cache)


def test_unavailable_backend_fails_at_plan_time_not_at_list(scratch, docker_client):
    if shutil.which("smolvm") and availability.kvm_problem() is None:
        pytest.skip("smolvm and KVM are usable here: the backend is available")
    listed = run_doit("list", "--all", "backend=smolmachines", env=scratch)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "push:vm" in listed.stdout and "pack:vm" in listed.stdout

    up = run_doit("up:vm", "backend=smolmachines", env=scratch)
    assert up.returncode != 0
    assert "the smolmachines backend cannot run vm on this machine" in up.stdout
    assert "smolvm is not on PATH" in up.stdout or "/dev/kvm" in up.stdout
    assert "Traceback" not in up.stdout + up.stderr
    # Refused before anything was built or started.
    ran = {line[3:].strip() for line in up.stdout.splitlines() if line.startswith(".  ")}
    assert ran == {"plan:vm"}, up.stdout

    env_choice = run_doit("up:vm", env={**scratch, "CLAUDE_BOTTLE_BACKEND": "smolmachines"})
    assert env_choice.returncode != 0 and "smolmachines backend cannot run vm" in env_choice.stdout


@pytest.mark.skipif(shutil.which("smolvm") is None or availability.kvm_problem() is not None,
                    reason=f"needs smolvm on PATH and a usable /dev/kvm: "
                           f"{availability.smolvm_problem() or availability.kvm_problem()}")
def test_start_in_a_microvm(scratch):
    result = run_doit("provision:vm", "backend=smolmachines", env=scratch)
    assert result.returncode == 0, result.stdout + result.stderr
    stop = run_doit("stop:vm", "backend=smolmachines", env=scratch)
    assert stop.returncode == 0, stop.stdout + stop.stderr
