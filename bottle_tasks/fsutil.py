"""Filesystem writes that never leave a half-written file behind."""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from .errors import BottleError

__all__ = ["atomic_stream", "atomic_write", "read_json", "write_in_place", "write_if_changed"]

_REQUIRED = object()


@contextmanager
def atomic_stream(path: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` only if the block completes (temp, fsync, rename).

    Readers see the old content or the new, never a prefix; a write that is
    interrupted removes its temp file, and one that is killed leaves only a
    hidden, unlocked temp file that ``doit cleanup`` removes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # Held until the rename: cleanup takes a temp file nobody holds for a killed write's leftover.
    fcntl.flock(fd, fcntl.LOCK_EX)
    with os.fdopen(fd, "wb") as fh:
        try:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`atomic_stream`)."""
    with atomic_stream(path, mode) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


def read_json(path: Path, what: str, error: type[Exception] = BottleError, missing: Any = _REQUIRED,
              hint: str = "") -> Any:
    """Parse the JSON file ``path``; a problem is an ``error`` naming ``what`` and the file.

    With ``missing`` given, an absent file yields it instead of an error.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing is not _REQUIRED:
            return missing
        raise error(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} {path} is not valid JSON (line {exc.lineno}): {exc.msg}"
                    + (f"; {hint}" if hint else "")) from None


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
