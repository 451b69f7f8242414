"""save → push → pack on the real daemon, with a stub smolvm standing in for pack create.

The registry, the skopeo push and the manifest check are real; only ``smolvm
pack create`` is the stub (tests/integration/smolvm_stub.py), which pulls the
manifest from the pipeline registry over loopback and writes it as the pack.
"""
from __future__ import annotations

import json
import shutil

import pytest

from bottle_tasks import labels
from tests.conftest import run_doit
from tests.integration.conftest import image_env, write_agent, write_bottle
from tests.integration.smolvm_stub import install_stub, stub_env

AGENT = "packer"


def executed(result) -> set[str]:
    return {line[3:].strip() for line in result.stdout.splitlines() if line.startswith(".  ")}


def ok(result):
    assert result.returncode == 0, f"doit failed:\n{result.stdout}\n{result.stderr}"
    return result


def _home_filter(home) -> dict:
    import hashlib
    home_id = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
    return {"label": [f"{labels.HOME}={home_id}"]}


def _leftovers(docker_client, home) -> list[str]:
    flt = _home_filter(home)
    return ([f"container {c.name}" for c in docker_client.containers.list(all=True, filters=flt)]
            + [f"network {n.name}" for n in docker_client.networks.list(filters=flt)])


@pytest.fixture
def pipeline(tmp_path, docker_client):
    home, cache = tmp_path / "home", tmp_path / "cache"
    write_bottle(home, "plain")
    write_agent(home, AGENT, "plain")
    install_stub(tmp_path / "bin")
    log = tmp_path / "smolvm.log"
    env = {**image_env(home, cache), **stub_env(tmp_path / "bin", log)}
    yield home, cache, env, log
    flt = _home_filter(home)
    for c in docker_client.containers.list(all=True, filters=flt):
        c.remove(force=True, v=True)
    for n in docker_client.networks.list(filters=flt):
        n.remove()


def _calls(log) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_pack_pushes_for_real_and_packs_from_the_registry(pipeline, docker_client):
    home, cache, env, log = pipeline
    first = ok(run_doit(f"pack:{AGENT}", env=env))
    assert {f"save:{AGENT}", f"push:{AGENT}", f"pack:{AGENT}"} <= executed(first)

    record = json.loads((cache / "images" / "agents" / f"{AGENT}.json").read_text())
    image_hex = record["id"].split(":")[1]
    pack = cache / "store" / f"{image_hex}.smolmachine"
    (call,) = [c for c in _calls(log) if c[:2] == ["pack", "create"]]
    image = call[call.index("--image") + 1]
    assert image.startswith("localhost:") and image.endswith(f"/claude-bottle/{AGENT}:{image_hex[:12]}")
    assert not call[call.index("--output") + 1].endswith(".smolmachine")
    # What the registry served while pack ran: its config is the image itself.
    assert json.loads(pack.read_bytes())["config"]["digest"] == record["id"]
    assert [p.name for p in (cache / "store").iterdir() if p.name.startswith(".")] == []
    assert _leftovers(docker_client, home) == []

    again = ok(run_doit(f"pack:{AGENT}", env=env))
    # plan:<agent> always runs (it prints the preflight); nothing of the pipeline does.
    assert executed(again) <= {f"plan:{AGENT}"}
    (home / "doit-deps.sqlite3").unlink()
    fresh = ok(run_doit(f"pack:{AGENT}", env=env))
    assert executed(fresh) <= {f"plan:{AGENT}"}
    assert len([c for c in _calls(log) if c[:2] == ["pack", "create"]]) == 1

    # A CI job restoring only the store directory into a fresh cache and home.
    restored = cache.parent / "restored-cache"
    shutil.copytree(cache / "store", restored / "store")
    shutil.copytree(cache / "images", restored / "images")
    (home / "doit-deps.sqlite3").unlink()
    ci = ok(run_doit(f"pack:{AGENT}", env={**env, "CLAUDE_BOTTLE_CACHE": str(restored)}))
    assert executed(ci) <= {f"plan:{AGENT}"}


def test_failed_push_leaves_no_container_or_network(pipeline, docker_client):
    home, cache, env, log = pipeline
    ok(run_doit(f"save:{AGENT}", env=env))
    (tarball,) = (cache / "store").glob("*-agent.tar")
    tarball.write_bytes(b"this is not a docker save archive\n" * 64)

    failed = run_doit(f"pack:{AGENT}", env=env)
    assert failed.returncode != 0
    assert "pushing" in failed.stdout and "skopeo exit" in failed.stdout, failed.stdout + failed.stderr
    assert "Traceback" not in failed.stdout + failed.stderr
    assert not list((cache / "store").glob("*.smolmachine"))
    assert not [c for c in _calls(log) if c[:2] == ["pack", "create"]]
    assert _leftovers(docker_client, home) == []


def test_registry_stopped_mid_pipeline_leaves_nothing(pipeline, docker_client):
    """The registry dies between push and pack: pack fails, everything is still removed."""
    home, cache, env, log = pipeline
    # A smolvm that first stops every pipeline registry of this home, then packs: the real pull fails.
    tmp = home.parent
    real = tmp / "bin" / "smolvm"
    wrapper = tmp / "bin2" / "smolvm"
    wrapper.parent.mkdir()
    flt = _home_filter(home)["label"][0]
    wrapper.write_text(f"#!/bin/sh\ndocker ps -q --filter label={flt} --filter label={labels.ROLE}=registry "
                       f"| xargs -r docker stop -t 1 >/dev/null\nexec {real} \"$@\"\n")
    wrapper.chmod(0o755)
    env = {**env, "PATH": f"{wrapper.parent}:{env['PATH']}"}
    failed = run_doit(f"pack:{AGENT}", env=env)
    assert failed.returncode != 0, failed.stdout
    assert "smolvm failed to pack" in failed.stdout, failed.stdout + failed.stderr
    assert not list((cache / "store").glob("*.smolmachine"))
    assert _leftovers(docker_client, home) == []
