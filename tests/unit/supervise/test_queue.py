"""The queue's files: atomic, world-readable, validated on read."""
from __future__ import annotations

import json
import threading

import pytest

from bottle_tasks.supervise.proposals import egress_proposal, make_decision, utc_now
from bottle_tasks.supervise.queue import Queue, QueueError


def proposal(queue: Queue, host="api.example.com", justification="needed"):
    return egress_proposal({"host": host, "justification": justification}, "researcher", queue.new_id(), utc_now())


def test_written_files_are_whole_world_readable_and_leave_no_temp_files(tmp_path):
    queue = Queue(tmp_path / "queue")
    p = proposal(queue)
    path = queue.write_proposal(p)
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert json.loads(path.read_text()) == p
    assert [x["id"] for x in queue.pending()] == [p["id"]]
    d = queue.write_decision(make_decision(p, "denied", "alice", utc_now(), reason="no"))
    assert oct(d.stat().st_mode & 0o777) == "0o644"
    assert list(queue.pending()) == []
    assert queue.decision(p["id"])["reason"] == "no"
    assert sorted(f.name for f in queue.root.iterdir()) == sorted([path.name, d.name])


def test_an_interrupted_write_is_invisible(tmp_path):
    queue = Queue(tmp_path / "queue")
    p = proposal(queue)
    queue.write_proposal(p)
    # what a crash between create and rename leaves behind
    (queue.root / f".{p['id']}.proposal.json.x1y2.tmp").write_text('{"version": 1, "id": "')
    assert queue.ids() == [p["id"]]
    assert [x["id"] for x in queue.pending()] == [p["id"]]


def test_readers_never_see_a_partial_file_while_it_is_rewritten(tmp_path):
    queue = Queue(tmp_path / "queue")
    p = proposal(queue)
    queue.write_proposal(p)
    stop = threading.Event()
    seen: list[str] = []
    failures: list[Exception] = []

    def reader():
        while not stop.is_set():
            try:
                seen.append(queue.proposal(p["id"])["justification"][:1])
            except Exception as exc:  # any torn read shows up here
                failures.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(200):
            queue.write_proposal({**p, "justification": str(i % 10) * 1500})
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert len(seen) > 10


def test_invalid_files_are_named_and_skipped_when_listing(tmp_path):
    queue = Queue(tmp_path / "queue")
    good = proposal(queue)
    queue.write_proposal(good)
    bad = queue.proposal_path("deadbeef")
    bad.write_text(json.dumps({**good, "id": "deadbeef", "route": {"host": "x.example.com", "token": "t"}}))
    with pytest.raises(QueueError) as info:
        queue.proposal("deadbeef")
    assert str(bad) in str(info.value) and "token" in str(info.value)
    errors: list[str] = []
    assert [x["id"] for x in queue.pending(errors)] == [good["id"]]
    assert len(errors) == 1 and str(bad) in errors[0]


def test_invalid_records_are_never_written(tmp_path):
    queue = Queue(tmp_path / "queue")
    p = proposal(queue)
    with pytest.raises(QueueError, match="auth"):
        queue.write_proposal({**p, "route": {**p["route"], "auth": {"scheme": "bearer", "token_ref": "X"}}})
    with pytest.raises(QueueError, match="reason"):
        queue.write_decision({"version": 1, "id": p["id"], "outcome": "denied", "decided_by": "a",
                              "decided_at": "2026-01-01T00:00:00Z"})
    assert not queue.root.exists() or list(queue.root.iterdir()) == []
