"""The content-addressed artifact store: ``$CLAUDE_BOTTLE_CACHE/store/``.

Every file is named by the identity of what it holds (``<image id>-<image>.tar``
for ``docker save`` output, ``<recipe digest>-debian-bootstrap.tar`` for the
offline base), so a name that exists is up to date by definition, whatever
doit's database says. Files appear under their final name only when complete:
they are streamed to a temp name in the same directory, fsynced, then renamed.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable

from . import paths
from .fsutil import atomic_stream

__all__ = ["image_artifact", "find_image", "atomic_stream", "write_chunks", "save_image", "load_image"]

_PROGRESS_EVERY = 64 << 20


def _hex(image_id: str) -> str:
    return image_id.split(":", 1)[-1]


def image_artifact(image_id: str, image: str) -> Path:
    """Where ``docker save`` output of ``image_id`` (an image called ``image``) lives."""
    return paths.store_dir() / f"{_hex(image_id)}-{image}.tar"


def find_image(image_id: str) -> Path | None:
    """Any saved tarball of ``image_id``, whatever image name it was saved under."""
    store = paths.store_dir()
    if not store.is_dir():
        return None
    return next(iter(sorted(store.glob(f"{_hex(image_id)}-*.tar"))), None)


def write_chunks(path: Path, chunks: Iterable[bytes], what: str = "") -> int:
    """Stream ``chunks`` into ``path`` atomically, printing progress; return the byte count."""
    total, next_report, started = 0, _PROGRESS_EVERY, time.monotonic()
    with atomic_stream(path) as fh:
        for chunk in chunks:
            fh.write(chunk)
            total += len(chunk)
            if total >= next_report:
                print(f"  {what or path.name}: {total >> 20} MiB written "
                      f"({time.monotonic() - started:.0f}s)", flush=True)
                next_report += _PROGRESS_EVERY
    return total


def save_image(ref: str, image_id: str, image: str) -> Path:
    """``docker save`` of ``ref`` into the store under ``image_id``; returns the final path."""
    from .dockerhost import client

    dest = image_artifact(image_id, image)
    print(f"saving {ref} to {dest}", flush=True)
    size = write_chunks(dest, client().api.get_image(ref, chunk_size=1 << 20), what=ref)
    print(f"saved {ref}: {size >> 20} MiB", flush=True)
    return dest


def load_image(path: Path) -> None:
    """``docker load`` of a store tarball (restores its tags too)."""
    from .dockerhost import client

    print(f"loading {path} into the daemon", flush=True)
    with open(path, "rb") as fh:
        for _ in client().api.load_image(fh):
            pass
