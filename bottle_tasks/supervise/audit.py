"""The supervise audit log: ``state/<slug>/audit.jsonl`` on the host, one JSON object per line.

Each decision appends one record: the proposal as the agent made it, what
was approved (after any operator edit), the outcome, who decided and when,
and the routes diff or capabilities that were applied. The sidecar cannot
write here: the file lives outside the bind-mounted queue.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping

from .. import paths

__all__ = ["audit_path", "append", "records"]


def audit_path(slug: str) -> Path:
    return paths.state_dir(slug) / "audit.jsonl"


def append(slug: str, record: Mapping[str, Any]) -> None:
    """Append one line with a single write on an O_APPEND descriptor, then fsync."""
    path = audit_path(slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {k: v for k, v in record.items() if v is not None}
    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def records(slug: str) -> Iterator[dict[str, Any]]:
    """The slug's audit records, oldest first; a torn or foreign line is skipped."""
    try:
        lines = audit_path(slug).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            yield record
