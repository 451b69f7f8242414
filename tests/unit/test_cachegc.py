"""Which images and store files a cache no longer needs; the decisions are pure, the files real."""
from __future__ import annotations

import fcntl
import json
import os

import pytest

from bottle_tasks import cachegc
from bottle_tasks.cachegc import StaleImage, image_candidates
from bottle_tasks.fsutil import atomic_stream

A, B, C = ("sha256:" + c * 64 for c in "abc")


def test_only_history_images_that_nothing_current_or_running_uses_are_stale():
    history = [{"tag": "claude-bottle/agent:old", "id": A}, {"tag": "claude-bottle/agent:new", "id": B},
               {"tag": "claude-bottle/sidecars:old", "id": C}, {"tag": "claude-bottle/agent:gone", "id": A}]
    existing = {"claude-bottle/agent:old": A, "claude-bottle/agent:new": B, "claude-bottle/sidecars:old": C}
    stale = image_candidates(history, {"claude-bottle/agent:new": B}, existing, used_ids=set())
    assert stale == [StaleImage("claude-bottle/sidecars:old", C), StaleImage("claude-bottle/agent:old", A)]
    # A container made from it (running or not) keeps it.
    assert image_candidates(history, {"claude-bottle/agent:new": B}, existing, used_ids={C}) == [
        StaleImage("claude-bottle/agent:old", A)]


def test_a_tag_now_naming_another_image_or_the_current_one_is_never_stale():
    history = [{"tag": "claude-bottle/agent:x", "id": A}, {"tag": "claude-bottle/alias:y", "id": B}]
    # x was rebuilt elsewhere into another image; y is another tag of the current image.
    existing = {"claude-bottle/agent:x": C, "claude-bottle/alias:y": B}
    assert image_candidates(history, {"claude-bottle/agent:cur": B}, existing, set()) == []


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAUDE_BOTTLE_CACHE", str(tmp_path))
    (tmp_path / "images").mkdir()
    (tmp_path / "store").mkdir()
    return tmp_path


def test_history_records_each_tag_once_and_survives_a_torn_line(cache):
    cachegc.record_image("claude-bottle/agent:1", A)
    cachegc.record_image("claude-bottle/agent:1", A)
    with open(cachegc.history_path(), "a") as fh:
        fh.write('{"tag": "claude-bottle/ag')
    with open(cachegc.history_path(), "a") as fh:
        fh.write("\n")
    cachegc.record_image("claude-bottle/agent:2", B)
    assert [r["tag"] for r in cachegc._history()] == ["claude-bottle/agent:1", "claude-bottle/agent:2"]


def test_store_files_no_stamp_names_and_killed_writes_are_stale(cache):
    (cache / "images/agent.json").write_text(json.dumps({"tag": "claude-bottle/agent:new", "id": B}))
    (cache / "images/agent.inputs.json").write_text(json.dumps({"tag": "not a stamp", "id": C}))
    store = cache / "store"
    keep = [store / f"{B[7:]}-agent.tar", store / f"{B[7:]}.smolmachine", store / "notes.txt"]
    drop = [store / f"{A[7:]}-agent.tar", store / f"{C[7:]}.smolmachine", store / ".x.tar.1234.tmp"]
    for path in keep + drop:
        path.write_bytes(b"x")
    writing = store / ".y.tar.5678.tmp"
    writing.write_bytes(b"half")
    fd = os.open(writing, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert sorted(cachegc.stale_store_files()) == sorted(drop)
    finally:
        os.close(fd)
    assert writing in cachegc.stale_store_files()


def test_offline_base_tarballs_of_other_recipes_are_stale(cache):
    current = cachegc._current_bootstrap_digest()
    assert current
    old = cache / "store" / f"{'0' * 64}-debian-bootstrap.tar"
    new = cache / "store" / f"{current}-debian-bootstrap.tar"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    assert cachegc.stale_store_files() == [old]


def test_an_atomic_write_in_progress_holds_its_temp_file(tmp_path):
    target = tmp_path / "artifact.tar"
    with atomic_stream(target) as fh:
        fh.write(b"part")
        [temp] = list(tmp_path.glob(".artifact.tar.*.tmp"))
        assert not cachegc.is_abandoned_temp(temp)
    assert target.read_bytes() == b"part" and not list(tmp_path.glob("*.tmp"))
