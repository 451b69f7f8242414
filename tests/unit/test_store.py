"""Store files appear under their final name only when complete."""
from __future__ import annotations

import pytest

from bottle_tasks import store


def _chunks_then_fail():
    yield b"a" * 1024
    yield b"b" * 1024
    raise ConnectionError("daemon went away")


def test_failed_stream_leaves_nothing_behind(bottle_home, tmp_path):
    dest = store.image_artifact("sha256:" + "ab" * 32, "agent")
    with pytest.raises(ConnectionError):
        store.write_chunks(dest, _chunks_then_fail())
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_complete_stream_lands_under_the_id(bottle_home):
    image_id = "sha256:" + "cd" * 32
    dest = store.image_artifact(image_id, "sidecars")
    assert store.write_chunks(dest, [b"x" * 10, b"y" * 5]) == 15
    assert dest.read_bytes() == b"x" * 10 + b"y" * 5
    assert dest.name == "cd" * 32 + "-sidecars.tar"
    assert store.find_image(image_id) == dest
    assert store.find_image("sha256:" + "ef" * 32) is None
