"""`doit cleanup` reclaims what a cache no longer needs, on a real daemon, and nothing else.

Tiny images (``FROM scratch``) stand in for the built ones: one current (its
stamp names it), one superseded, one superseded but still behind a container,
and one this cache never built.
"""
from __future__ import annotations

import io
import json
import tarfile

import docker.errors
import pytest

from bottle_tasks import cachegc
from tests.conftest import run_doit
from tests.integration.conftest import TEST_LABEL


def _tiny_image(client, tag: str, content: str, labels: dict[str, str]) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", b"FROM scratch\nCOPY f /f\nCMD [\"/f\"]\n"), ("f", content.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    image, _ = client.images.build(fileobj=buf, custom_context=True, tag=tag, labels=labels, rm=True)
    return image.id


@pytest.fixture
def cache_world(tmp_path, docker_client, test_run_id, test_labels, monkeypatch):
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    (cache / "images").mkdir(parents=True)
    (cache / "store").mkdir()
    repo = f"claude-bottle/gctest-{test_run_id}"
    tags = {name: f"{repo}:{name}" for name in ("current", "old", "in-use", "foreign")}
    ids = {name: _tiny_image(docker_client, tag, f"{name}-{test_run_id}", {TEST_LABEL: test_run_id})
           for name, tag in tags.items()}
    monkeypatch.setenv("CLAUDE_BOTTLE_CACHE", str(cache))
    for name in ("old", "in-use", "current"):
        cachegc.record_image(tags[name], ids[name])
    (cache / "images/agent.json").write_text(json.dumps({"tag": tags["current"], "id": ids["current"],
                                                         "digest": "0" * 64}))
    holder = docker_client.containers.create(tags["in-use"], labels=test_labels, name=f"gctest-{test_run_id}")
    store = cache / "store"
    files = {"current": store / f"{ids['current'][7:]}-agent.tar", "old": store / f"{ids['old'][7:]}-agent.tar",
             "killed": store / ".agent.tar.k1ll3d.tmp"}
    for path in files.values():
        path.write_bytes(b"\0" * 1024)
    env = {"CLAUDE_BOTTLE_HOME": str(home), "CLAUDE_BOTTLE_CACHE": str(cache)}
    yield {"env": env, "tags": tags, "files": files, "client": docker_client}
    holder.remove(force=True)
    for tag in tags.values():
        try:
            docker_client.images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass


def _exists(client, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def test_cleanup_names_superseded_images_but_removes_them_only_when_asked(cache_world):
    out = run_doit("cleanup", "--yes", env=cache_world["env"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 superseded image(s) kept: `doit cleanup --images` removes them too" in out.stdout
    files, tags, client = cache_world["files"], cache_world["tags"], cache_world["client"]
    assert not files["old"].exists() and not files["killed"].exists()
    assert files["current"].exists()
    assert all(_exists(client, tag) for tag in tags.values())

    out = run_doit("cleanup", "--yes", "--images", env=cache_world["env"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"removed image {tags['old']}" in out.stdout
    assert not _exists(client, tags["old"])
    # The current image, one a container was made from, and one this cache never built stay.
    assert _exists(client, tags["current"]) and _exists(client, tags["in-use"]) and _exists(client, tags["foreign"])
    assert run_doit("cleanup", "--yes", "--images", env=cache_world["env"]).stdout.strip().endswith(
        "nothing to clean up")
