"""Filesystem writes that never leave a half-written file behind."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "write_in_place", "write_if_changed"]


def atomic_write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Write to a temp name in the same directory, fsync, then rename over ``path``.

    Readers see the old content or the new, never a prefix; an interrupted
    write leaves only a temp file that the next write replaces.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_in_place(path: Path, data: bytes | str, mode: int = 0o644) -> bool:
    """Rewrite ``path`` keeping its inode; return True when the content changed.

    Single-file bind mounts pin the inode they were created with, so a
    rename-over would leave the container reading the old file forever.
    """
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    if path.exists():
        if path.read_bytes() == payload:
            return False
        with open(path, "r+b") as fh:
            fh.write(payload)
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(path, mode)
        return True
    atomic_write(path, payload, mode)
    return True


def write_if_changed(path: Path, data: bytes | str, mode: int = 0o644) -> bool:
    """Atomically replace ``path`` only when its content differs (keeps mtime stable)."""
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    if path.exists() and path.read_bytes() == payload:
        return False
    atomic_write(path, payload, mode)
    return True
