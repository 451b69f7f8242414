"""Integration tests talk to a real Docker daemon.

Under CI (``CI=true``) a missing daemon fails the run instead of skipping:
a skipped integration suite would hide exactly what it is there to prove.
"""
from __future__ import annotations

import os
import uuid

import pytest

from bottle_tasks import labels

TEST_LABEL = "dev.claude-bottle.test"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def docker_client():
    import docker
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no Docker daemon answers: {exc}")
        pytest.skip(f"no Docker daemon: {exc}")
    return client


@pytest.fixture(scope="session")
def test_run_id():
    return uuid.uuid4().hex[:10]


@pytest.fixture
def test_labels(test_run_id):
    """Labels for anything a test creates; the session cleanup removes exactly these."""
    return {**labels.managed_labels(slug=f"test-{test_run_id}", role="test"), TEST_LABEL: test_run_id}


@pytest.fixture(scope="session", autouse=True)
def _cleanup_test_objects(request, test_run_id):
    yield
    try:
        import docker
        client = docker.from_env()
        client.ping()
    except Exception:
        return
    remove_labelled(client, f"{TEST_LABEL}={test_run_id}")


def remove_labelled(client, label: str) -> None:
    """Remove every container (with its anonymous volumes), network and volume carrying ``label``."""
    flt = {"label": [label]}
    for c in client.containers.list(all=True, filters=flt):
        c.remove(force=True, v=True)
    for n in client.networks.list(filters=flt):
        n.remove()
    for v in client.volumes.list(filters=flt):
        v.remove(force=True)


# -- images: built once per session through the real task graph -------------------------------

SHARED_IMAGES = ("base", "agent", "sidecars")

PLAIN_BOTTLE = """---
description: A bottle with no credentials, for image tests.
egress:
  routes:
    - host: registry.npmjs.org
      methods: [GET]
---
"""


def write_agent(home, name: str, bottle: str) -> None:
    (home / "agents").mkdir(parents=True, exist_ok=True)
    (home / "agents" / f"{name}.md").write_text(
        f"---\ndescription: image test agent {name}\nbottle: {bottle}\n---\nYou are a test agent.\n")


def write_bottle(home, name: str, text: str = PLAIN_BOTTLE) -> None:
    (home / "bottles").mkdir(parents=True, exist_ok=True)
    (home / "bottles" / f"{name}.md").write_text(text)


def image_env(home, cache, **extra: str) -> dict[str, str]:
    """Environment for ``run_doit``: a scratch home and cache; the example agents' token is a dummy."""
    return {"CLAUDE_BOTTLE_HOME": str(home), "CLAUDE_BOTTLE_CACHE": str(cache),
            "CLAUDE_CODE_OAUTH_TOKEN": "test-dummy-token", **extra}


def stamp(cache, name: str) -> dict:
    import json
    return json.loads((cache / "images" / f"{name}.json").read_text())


def _hold_and_untag(client, tags: list[str], run_id: str) -> list[str]:
    """Untag ``tags`` while a hold tag keeps each image (and so docker's layer cache) alive."""
    held = []
    for tag in tags:
        hold = f"claude-bottle-test/hold:{run_id}-{tag.split('/')[1].replace(':', '-')}"
        client.images.get(tag).tag(hold)
        client.images.remove(tag, noprune=True)
        held.append(hold)
    return held


@pytest.fixture(scope="session")
def image_session(tmp_path_factory, docker_client, test_run_id):
    """One home and cache for the session, with the shared images built through ``doit build``.

    The first run makes sure the images exist (building from scratch on a
    fresh daemon). Then the current tags are removed while a hold tag keeps the
    images, and ``doit build`` runs again: every shared image is rebuilt by a
    real ``docker build`` served from the layer cache, with the same image IDs,
    so tests that reuse the images pay for the expensive layers only once.
    """
    from tests.conftest import run_doit

    root = tmp_path_factory.mktemp("images")
    home, cache = root / "home", root / "cache"
    write_bottle(home, "plain")
    write_agent(home, "alpha", "plain")
    env = image_env(home, cache)
    first = run_doit("build", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    tags = [stamp(cache, n)["tag"] for n in SHARED_IMAGES]
    held = _hold_and_untag(docker_client, tags, test_run_id)
    try:
        cold = run_doit("build", env=env)
    finally:
        for hold in held:
            docker_client.images.remove(hold, noprune=True)
    assert cold.returncode == 0, cold.stdout + cold.stderr
    return {"home": home, "cache": cache, "env": env, "cold": cold,
            "tags": {n: stamp(cache, n)["tag"] for n in SHARED_IMAGES}}


@pytest.fixture(scope="session")
def tiny_image(tmp_path_factory):
    """The base image (small Debian), built through ``doit build:base``; returns its tag."""
    from tests.conftest import run_doit

    root = tmp_path_factory.mktemp("tiny")
    env = image_env(root / "home", root / "cache")
    result = run_doit("build:base", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return stamp(root / "cache", "base")["tag"]


@pytest.fixture
def new_images(docker_client):
    """Removes, after the test, the agent/derived images it created (found by our digest label).

    Shared base and sidecars images are never touched (no test here makes new
    ones, and a concurrent real build may), nor images a container still uses.
    """
    def ours():
        return {i.id: i for i in docker_client.images.list(filters={"label": labels.DIGEST})}
    before = set(ours())
    yield
    for image_id, image in ours().items():
        shared = [t for t in image.tags if t.startswith(("claude-bottle/base:", "claude-bottle/sidecars:"))]
        if image_id in before or shared:
            continue
        try:
            docker_client.images.remove(image_id, force=bool(image.tags))
        except Exception:
            pass  # still used by a container, or a child of another new image already removed
