"""Per-slug file locks held for the rest of the process.

doit runs a slug's stages one after another in one process; a second
``doit`` run on the same slug must not interleave with them (say, ``up``
while the other run is in ``stop``). The first stage action of a run takes
the slug's lock and keeps it until the process exits, so runs on the same
slug queue and runs on different slugs proceed side by side.
"""
from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from . import paths
from .errors import BottleError

__all__ = ["hold_slug_lock", "release_slug_lock", "slug_lock_path", "slug_busy"]

_held: dict[str, int] = {}


def slug_lock_path(slug: str) -> Path:
    return paths.state_dir(slug) / ".lock"


def hold_slug_lock(slug: str, timeout: float = 600.0) -> None:
    if slug in _held:
        return
    path = slug_lock_path(slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if not announced:
                other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                print(f"waiting for another claude-bottle run on '{slug}' (pid {other}) to finish...",
                      file=sys.stderr, flush=True)
                announced = True
            if time.monotonic() > deadline:
                os.close(fd)
                raise BottleError(f"another claude-bottle run holds '{slug}' ({path}); "
                                  f"gave up after {timeout:.0f}s")
            time.sleep(0.2)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _held[slug] = fd


def release_slug_lock(slug: str) -> None:
    """Let other runs at ``slug`` proceed, e.g. while this one is attached to Claude Code."""
    fd = _held.pop(slug, None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def slug_busy(slug: str) -> bool:
    """Whether another process holds ``slug``'s lock right now (say, half way through ``up``)."""
    if slug in _held:
        return False
    path = slug_lock_path(slug)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
