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
    flt = {"label": [f"{TEST_LABEL}={test_run_id}"]}
    for c in client.containers.list(all=True, filters=flt):
        c.remove(force=True, v=True)
    for n in client.networks.list(filters=flt):
        n.remove()
    for v in client.volumes.list(filters=flt):
        v.remove(force=True)
