"""A fresh Docker daemon given a restored cache loads every image and builds none.

The CI scenario of the design: a runner starts with an empty daemon and the
``$CLAUDE_BOTTLE_CACHE`` a previous run saved (stamps + store). A second,
real ``dockerd`` with its own data root, in a network namespace of its own,
stands in for that runner, reached through ``DOCKER_HOST``.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import docker
import pytest

from bottle_tasks.egress.harness import stop_process
from tests.conftest import run_doit
from tests.integration.conftest import SHARED_IMAGES, image_env, stamp, write_agent, write_bottle

from .test_build import executed, ok, skipped


@pytest.fixture
def fresh_daemon(test_run_id):
    # Short paths: containerd's socket under the exec root must fit a unix socket name.
    root = Path(f"/tmp/cbd-{test_run_id}")
    root.mkdir()
    sock = root / "docker.sock"
    log = open(root / "dockerd.log", "wb")
    # Its own network namespace: its bridge and any rule it makes stay there (a second
    # dockerd in the host's namespace would reconfigure the host daemon's docker0), and
    # it has no route anywhere, so nothing it might try to fetch can leave the machine.
    proc = subprocess.Popen(
        ["unshare", "--net", "--", "dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
         "--pidfile", str(root / "dockerd.pid"), "--host", f"unix://{sock}", "--iptables=false", "--ip-masq=false"],
        stdout=log, stderr=subprocess.STDOUT)
    client = None
    deadline = time.monotonic() + 60
    while client is None:
        assert proc.poll() is None, (root / "dockerd.log").read_text()
        assert time.monotonic() < deadline, "the second dockerd did not come up"
        try:
            candidate = docker.DockerClient(base_url=f"unix://{sock}", timeout=300)
            candidate.ping()
            client = candidate
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.3)
    try:
        yield sock, client
    finally:
        client.close()
        stop_process(proc, timeout=60)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def test_a_runner_restoring_the_cache_loads_every_image_and_builds_none(tmp_path, image_session, fresh_daemon):
    sock, fresh = fresh_daemon
    home, cache = tmp_path / "home", tmp_path / "cache"
    shutil.copytree(image_session["cache"] / "images", cache / "images", ignore=shutil.ignore_patterns("agents"))
    write_bottle(home, "plain")
    write_agent(home, "kappa", "plain")
    ok(run_doit("save", env=image_env(home, cache)))

    # The runner: the restored cache, a new home (so a fresh doit DB), an empty daemon.
    runner_home = tmp_path / "runner-home"
    write_bottle(runner_home, "plain")
    write_agent(runner_home, "kappa", "plain")
    env = image_env(runner_home, cache, DOCKER_HOST=f"unix://{sock}")
    assert not fresh.images.list()
    restored = ok(run_doit("build", env=env))
    assert {"build:base", "build:agent", "build:sidecars"} <= executed(restored)
    assert "building " not in restored.stdout, restored.stdout
    assert restored.stdout.count("loading ") == len(SHARED_IMAGES)
    for name in SHARED_IMAGES:
        record = stamp(cache, name)
        assert fresh.images.get(record["tag"]).id == record["id"]

    again = ok(run_doit("build", env=env))
    assert not executed(again) - {"build:kappa"} and {"build:base", "build:agent", "build:sidecars"} <= skipped(again)
