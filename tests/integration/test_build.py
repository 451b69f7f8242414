"""The build stage against the real daemon: what runs, what is skipped, and why.

doit's report marks a task it executed with ``.  name`` and one it found up to
date with ``-- name``; the tests read those lines, not timings.
"""
from __future__ import annotations

import json
import tarfile
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from bottle_tasks.buildca import pem_blocks, resolve_build_ca
from tests.conftest import REPO, run_doit
from tests.integration.conftest import (SHARED_IMAGES, image_env, stamp, write_agent,
                                        write_bottle)

BUILD_TASKS = ("build:base", "build:agent", "build:sidecars")


def executed(result) -> set[str]:
    return {line[3:].strip() for line in result.stdout.splitlines() if line.startswith(".  ")}


def skipped(result) -> set[str]:
    return {line[3:].strip() for line in result.stdout.splitlines() if line.startswith("-- ")}


def ok(result):
    assert result.returncode == 0, f"doit failed:\n{result.stdout}\n{result.stderr}"
    return result


def run_in(image: str, *cmd: str, user: str | None = None) -> str:
    import docker
    client = docker.from_env()
    out = client.containers.run(image, list(cmd), remove=True, user=user)
    return out.decode()


@pytest.fixture
def warm(tmp_path, image_session):
    """A scratch home whose cache holds the session's stamps: starts warm, with a fresh doit DB."""
    home, cache = tmp_path / "home", tmp_path / "cache"
    shutil.copytree(image_session["cache"] / "images", cache / "images",
                    ignore=shutil.ignore_patterns("agents"))
    return home, cache


def test_cold_build_builds_working_images(image_session, docker_client):
    cold = image_session["cold"]
    assert set(BUILD_TASKS) <= executed(cold)
    for name in SHARED_IMAGES:
        tag = image_session["tags"][name]
        assert f"building {tag}" in cold.stdout
        assert f"Successfully tagged {tag}" in cold.stdout
        record = stamp(image_session["cache"], name)
        image = docker_client.images.get(tag)
        assert image.id == record["id"]
        assert image.labels["dev.claude-bottle.digest"] == record["digest"]
        assert tag.endswith(":" + record["digest"][:12])

    agent = image_session["tags"]["agent"]
    assert "Claude Code" in run_in(agent, "claude", "--version")
    assert run_in(agent, "id", "-u").strip() == "1000"
    assert run_in(agent, "sh", "-c", "echo $HOME").strip() == "/home/node"
    for tool in ("git", "curl", "jq", "rg", "less", "ps", "ssh", "node", "npm"):
        run_in(agent, "sh", "-c", f"command -v {tool}")

    sidecars = image_session["tags"]["sidecars"]
    assert "Mitmproxy: 12.3.1" in run_in(sidecars, "mitmdump", "--version")
    assert run_in(sidecars, "supervisord", "--version").strip() == "4.3.0"
    assert run_in(sidecars, "id", "-u", "bottle").strip() == "1001"
    run_in(sidecars, "test", "-x", "/usr/lib/git-core/git-daemon")
    # The project itself is installed, and finds its schemas.
    out = run_in(sidecars, "python", "-c",
                 "import bottle_tasks.paths as p; print(sorted(x.name for x in p.schemas_dir().iterdir()))")
    assert "bottle.schema.json" in out


def test_build_ca_is_not_trusted_by_final_images(image_session):
    extra = pem_blocks(resolve_build_ca().pem)
    if not extra:
        pytest.skip("this host needs no build CA, so there is nothing that could leak")
    for name in ("agent", "sidecars"):
        tag = image_session["tags"][name]
        bundle = run_in(tag, "cat", "/etc/ssl/certs/ca-certificates.crt")
        trusted = set(pem_blocks(bundle.encode()))
        # Debian may still ship some of the older public roots the host has beyond
        # certifi's set, but a leak of the build CA would make every one trusted.
        assert set(extra) - trusted, f"{name} trusts the whole build CA"
        leftovers = run_in(tag, "sh", "-c", "find / -xdev \\( -name 'build-ca*' -o -name bundle.pem \\) "
                                            "-not -path '/proc/*' 2>/dev/null; true")
        assert leftovers.strip() == "", f"{name} keeps build CA files: {leftovers}"
        env = docker.from_env().images.get(tag).attrs["Config"]["Env"]
        assert not [e for e in env if e.startswith(("PIP_CERT", "NODE_EXTRA_CA_CERTS", "npm_config_cafile"))]


def test_warm_build_runs_no_build_action(image_session):
    again = ok(run_doit("build", env=image_session["env"]))
    assert not {t for t in executed(again) if t.startswith("build:")}
    assert {*BUILD_TASKS, "build:alpha"} <= skipped(again)


def test_fresh_doit_db_runs_no_build_action(image_session):
    db = image_session["home"] / "doit-deps.sqlite3"
    assert db.exists()
    db.unlink()
    again = ok(run_doit("build", env=image_session["env"]))
    assert not {t for t in executed(again) if t.startswith("build:")}
    assert {*BUILD_TASKS, "build:alpha"} <= skipped(again)


def test_route_edit_rerenders_but_builds_nothing(warm):
    home, cache = warm
    write_bottle(home, "routed")
    write_agent(home, "gamma", "routed")
    env = image_env(home, cache)
    ok(run_doit("render:gamma", env=env))
    settled = ok(run_doit("render:gamma", env=env))
    assert "render:gamma" in skipped(settled)

    bottle = home / "bottles" / "routed.md"
    bottle.write_text(bottle.read_text().replace(
        "      methods: [GET]\n", "      methods: [GET]\n    - host: pypi.org\n      methods: [GET]\n"))
    edited = ok(run_doit("render:gamma", env=env))
    assert "render:gamma" in executed(edited)
    assert not {t for t in executed(edited) if t.startswith("build:")}
    assert {*BUILD_TASKS, "build:gamma"} <= skipped(edited)
    assert "pypi.org" in (home / "state" / "gamma" / "rendered" / "routes.yaml").read_text()


def test_agent_dockerfile_edit_rebuilds_agent_only(warm, tmp_path, test_run_id, new_images, docker_client):
    home, cache = warm
    images = tmp_path / "images"
    shutil.copytree(REPO / "images", images)
    write_bottle(home, "plain")
    write_agent(home, "delta", "plain")
    env = image_env(home, cache, CLAUDE_BOTTLE_IMAGES=str(images))
    settled = ok(run_doit("build", env=env))
    assert not {"build:base", "build:agent", "build:sidecars"} & executed(settled)

    dockerfile = images / "agent" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + f"LABEL dev.claude-bottle.test-edit={test_run_id}\n")
    edited = ok(run_doit("build", env=env))
    assert "build:agent" in executed(edited)
    assert {"build:base", "build:sidecars"} <= skipped(edited)
    assert "inputs changed: Dockerfile" in edited.stdout
    new = stamp(cache, "agent")
    assert docker_client.images.get(new["tag"]).labels["dev.claude-bottle.test-edit"] == test_run_id
    # delta's bottle adds nothing, so delta now runs the new agent image.
    assert json.loads((cache / "images" / "agents" / "delta.json").read_text())["id"] == new["id"]


def _capability_bottle(marker: str) -> str:
    return PLAIN_WITH_CAPS.format(marker=marker)


PLAIN_WITH_CAPS = """---
description: A bottle with one extra Dockerfile line.
egress:
  routes:
    - host: registry.npmjs.org
      methods: [GET]
capabilities:
  dockerfile:
    - RUN echo {marker} > /etc/bottle-capability
---
"""


def test_capability_rebuilds_only_that_bottles_image(warm, test_run_id, new_images, docker_client):
    home, cache = warm
    write_bottle(home, "one")
    write_bottle(home, "two")
    write_agent(home, "one", "one")
    write_agent(home, "two", "two")
    env = image_env(home, cache)
    ok(run_doit("build", env=env))

    write_bottle(home, "one", _capability_bottle(test_run_id))
    added = ok(run_doit("build", env=env))
    assert "build:one" in executed(added)
    assert {*BUILD_TASKS, "build:two"} <= skipped(added)
    assert "building claude-bottle/derived:" in added.stdout
    one = json.loads((cache / "images" / "agents" / "one.json").read_text())
    assert run_in(one["tag"], "cat", "/etc/bottle-capability").strip() == test_run_id
    assert run_in(one["tag"], "id", "-un").strip() == "node"

    # The same capabilities in another bottle reuse the image: built once.
    write_bottle(home, "two", _capability_bottle(test_run_id))
    shared = ok(run_doit("build", env=env))
    assert "build:two" in executed(shared)
    assert "building claude-bottle/derived:" not in shared.stdout
    two = json.loads((cache / "images" / "agents" / "two.json").read_text())
    assert two["id"] == one["id"]


def test_removed_image_is_rebuilt(warm, test_run_id, new_images, docker_client):
    home, cache = warm
    write_bottle(home, "eps", _capability_bottle(f"removed-{test_run_id}"))
    write_agent(home, "eps", "eps")
    env = image_env(home, cache)
    ok(run_doit("build:eps", env=env))
    record = json.loads((cache / "images" / "agents" / "eps.json").read_text())
    docker_client.images.remove(record["tag"], force=True)

    again = ok(run_doit("build:eps", env=env))
    assert "build:eps" in executed(again)
    assert f"building {record['tag']} ({record['tag']} is gone from the daemon)" in again.stdout
    assert docker_client.images.get(record["tag"])


def test_interrupted_save_leaves_no_file_under_the_final_name(warm, image_session):
    home, cache = warm
    write_bottle(home, "plain")
    write_agent(home, "zeta", "plain")
    env = image_env(home, cache)
    ok(run_doit("build:zeta", env=env))
    record = json.loads((cache / "images" / "agents" / "zeta.json").read_text())
    store = cache / "store"
    final = store / f"{record['id'].split(':')[1]}-agent.tar"

    proc = subprocess.Popen([sys.executable, "-m", "doit", "save:zeta"], cwd=REPO,
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    partial = []
    while time.monotonic() < deadline and not partial:
        partial = [p for p in store.glob(".*.tmp") if p.stat().st_size > 0] if store.is_dir() else []
        time.sleep(0.05)
    assert partial, "save never started writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not final.exists()

    saved = ok(run_doit("save:zeta", env=env))
    assert "save:zeta" in executed(saved)
    assert final.is_file()
    with tarfile.open(final) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["Config"].startswith(record["id"].split(":")[1])
    noop = ok(run_doit("save:zeta", env=env))
    assert "save:zeta" in skipped(noop)


def test_image_missing_from_daemon_is_loaded_from_the_store(warm, test_run_id, new_images, docker_client):
    home, cache = warm
    write_bottle(home, "eta", _capability_bottle(f"stored-{test_run_id}"))
    write_agent(home, "eta", "eta")
    env = image_env(home, cache)
    ok(run_doit("save:eta", env=env))
    record = json.loads((cache / "images" / "agents" / "eta.json").read_text())
    docker_client.images.remove(record["tag"], force=True)

    again = ok(run_doit("build:eta", env=env))
    assert "build:eta" in executed(again)
    assert "loading " in again.stdout and "building claude-bottle/derived" not in again.stdout
    assert docker_client.images.get(record["tag"]).id == record["id"]


def test_save_stores_every_image_a_fresh_daemon_needs(warm):
    home, cache = warm
    write_bottle(home, "plain")
    write_agent(home, "iota", "plain")
    env = image_env(home, cache)
    saved = ok(run_doit("save", env=env))
    assert {"save:base", "save:agent", "save:sidecars"} <= executed(saved)
    # iota runs the agent image itself: its tarball is the agent's, written once.
    assert "save:iota" in executed(saved) | skipped(saved)
    for name in SHARED_IMAGES:
        record = stamp(cache, name)
        artifact = cache / "store" / f"{record['id'].split(':')[1]}-{name}.tar"
        with tarfile.open(artifact) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest[0]["Config"].startswith(record["id"].split(":")[1])
        assert record["tag"] in manifest[0]["RepoTags"]
    assert len(list((cache / "store").glob("*-agent.tar"))) == 1
    assert "save" not in {t.split(":")[0] for t in executed(ok(run_doit("save", env=env)))}


def test_failed_build_names_the_step_without_a_traceback(warm, test_run_id, new_images):
    home, cache = warm
    failing = _capability_bottle(test_run_id).replace(
        f"RUN echo {test_run_id} > /etc/bottle-capability",
        f"RUN echo broken-{test_run_id} && exit 3")
    write_bottle(home, "theta", failing)
    write_agent(home, "theta", "theta")
    result = run_doit("build:theta", env=image_env(home, cache))
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "error (build:theta): building claude-bottle/derived:" in out
    assert "failed at Step" in out and f"RUN echo broken-{test_run_id} && exit 3" in out
    assert "returned a non-zero code: 3" in out
    assert "Traceback" not in out
