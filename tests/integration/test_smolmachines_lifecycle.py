"""active and cleanup with bottles of both backends on one daemon.

Docker bottles are real labelled containers; a smolmachines bottle is its
real bundle container and network plus a machine that a stub ``smolvm
machine ls --json`` lists (smolvm itself cannot run here).
"""
from __future__ import annotations

import json

import pytest

from bottle_tasks import labels
from tests.conftest import run_doit
from tests.integration.conftest import TEST_LABEL
from tests.integration.smolvm_stub import install_stub, stub_env


@pytest.fixture
def world(bottle_home, tmp_path, docker_client, tiny_image, test_run_id):
    """dlive (docker, running), dgone (docker, exited), slive (smolmachines, running), sgone (stopped)."""
    run = test_run_id[:6]
    made = []

    def lab(slug, backend, role):
        return {**labels.managed_labels(slug=slug, backend=backend, role=role), TEST_LABEL: test_run_id}

    def container(slug, backend, role, start=True):
        kw = dict(name=f"claude-bottle-{slug}-{role}", labels=lab(slug, backend, role), command=["sleep", "600"])
        c = docker_client.containers.run(tiny_image, detach=True, **kw) if start else \
            docker_client.containers.create(tiny_image, **kw)
        made.append(c)
        return c

    slugs = {k: f"{k}-{run}" for k in ("dlive", "dgone", "slive", "sgone")}
    container(slugs["dlive"], "docker", "agent")
    container(slugs["dlive"], "docker", "sidecars")
    container(slugs["dgone"], "docker", "agent", start=False)
    container(slugs["slive"], "smolmachines", "sidecars")
    nets = {k: docker_client.networks.create(f"claude-bottle-{slugs[k]}-bundle",
                                             labels=lab(slugs[k], "smolmachines", "bundle"))
            for k in ("slive", "sgone")}
    mine = {labels.MANAGED: "true", labels.HOME: labels.home_id()}
    machines = [
        {"name": f"claude-bottle-{slugs['slive']}", "state": "running", "labels": {**mine, labels.SLUG: slugs["slive"]}},
        {"name": f"claude-bottle-{slugs['sgone']}", "state": "stopped", "labels": {**mine, labels.SLUG: slugs["sgone"]}},
        {"name": "someone-elses-vm", "state": "stopped", "labels": {}},
        {"name": f"claude-bottle-other-home-{run}", "state": "stopped",
         "labels": {labels.MANAGED: "true", labels.HOME: "0" * 16, labels.SLUG: "x"}},
    ]
    machines_file = tmp_path / "machines.json"
    machines_file.write_text(json.dumps(machines))
    install_stub(tmp_path / "bin")
    log = tmp_path / "smolvm.log"
    env = {"CLAUDE_BOTTLE_HOME": str(bottle_home), "CLAUDE_BOTTLE_CACHE": str(tmp_path / "cache"),
           **stub_env(tmp_path / "bin", log, machines_file)}
    yield {"slugs": slugs, "env": env, "log": log, "machines": machines_file, "nets": nets}
    import docker.errors
    for obj in [*made, *nets.values()]:
        try:
            obj.remove(force=True) if obj in made else obj.remove()
        except docker.errors.NotFound:
            pass  # cleanup under test removed it


def _names(docker_client, home_filter):
    return ({c.name for c in docker_client.containers.list(all=True, filters=home_filter)},
            {n.name for n in docker_client.networks.list(filters=home_filter)})


def test_active_lists_running_bottles_of_both_backends(world):
    s = world["slugs"]
    out = run_doit("active", env=world["env"])
    assert out.returncode == 0, out.stdout + out.stderr
    rows = {line.split()[1]: line.split()[0] for line in out.stdout.splitlines()[1:] if line.strip()}
    assert rows.get(s["dlive"]) == "docker"
    assert rows.get(s["slive"]) == "smolmachines"
    assert s["dgone"] not in rows and s["sgone"] not in rows


def test_cleanup_reaps_orphans_of_each_backend_and_no_live_bottle(world, docker_client):
    s = world["slugs"]
    out = run_doit("cleanup", "--yes", env=world["env"])
    assert out.returncode == 0, out.stdout + out.stderr
    containers, networks = _names(docker_client, labels.managed_filter())
    assert {f"claude-bottle-{s['dlive']}-agent", f"claude-bottle-{s['dlive']}-sidecars",
            f"claude-bottle-{s['slive']}-sidecars"} <= containers
    assert f"claude-bottle-{s['dgone']}-agent" not in containers
    assert f"claude-bottle-{s['slive']}-bundle" in networks
    assert f"claude-bottle-{s['sgone']}-bundle" not in networks
    deletes = [json.loads(line) for line in world["log"].read_text().splitlines()
               if json.loads(line)[:2] == ["machine", "delete"]]
    assert deletes == [["machine", "delete", "--name", f"claude-bottle-{s['sgone']}", "--force"]]
    left = {m["name"] for m in json.loads(world["machines"].read_text())}
    assert f"claude-bottle-{s['slive']}" in left and "someone-elses-vm" in left


def test_cleanup_without_smolvm_leaves_smolmachines_bottles_alone(world, docker_client):
    s = world["slugs"]
    env = {**world["env"], "PATH": world["env"]["PATH"].split(":", 1)[1]}
    out = run_doit("cleanup", "--yes", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "smolvm is not on PATH" in out.stdout
    containers, networks = _names(docker_client, labels.managed_filter())
    assert f"claude-bottle-{s['slive']}-sidecars" in containers
    assert {f"claude-bottle-{s['slive']}-bundle", f"claude-bottle-{s['sgone']}-bundle"} <= networks
    assert f"claude-bottle-{s['dgone']}-agent" not in containers
    assert f"claude-bottle-{s['dlive']}-agent" in containers
