"""What a cache no longer needs: superseded images and store files, and temp files of killed writes.

The roots are the cache's image stamps (``$CLAUDE_BOTTLE_CACHE/images/**.json``):
whatever they name is current. Every tag a stamp ever named is recorded in
``images/history.jsonl``; an image is superseded when its tag is in this
cache's history, no stamp names it, and no container (ours or anyone's) was
created from it. Images other caches or tools made are never candidates, so
a scratch cache (tests, CI) cannot prune what a user's cache still uses.

The store is the cache's own: a ``docker save`` tarball or packed microVM
whose image ID no stamp names, or an offline-base tarball of another recipe,
is superseded; a hidden ``.tmp`` file is a killed write once no writer holds
its lock (:func:`fsutil.atomic_stream` locks it while writing).
"""
from __future__ import annotations

import fcntl
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from . import paths

__all__ = ["StaleImage", "history_path", "record_image", "current_images", "stale_images",
           "stale_store_files", "image_candidates", "is_abandoned_temp"]

_STORE_ID_RE = re.compile(r"^(?P<id>[0-9a-f]{64})(?:-[A-Za-z0-9_.-]+\.tar|\.smolmachine)$")
_BOOTSTRAP_RE = re.compile(r"^(?P<digest>[0-9a-f]+)-debian-bootstrap\.tar$")


@dataclass(frozen=True)
class StaleImage:
    tag: str
    id: str


def _stamps_dir() -> Path:
    return paths.cache_home() / "images"


def history_path() -> Path:
    return _stamps_dir() / "history.jsonl"


def _history() -> list[dict[str, str]]:
    try:
        lines = history_path().read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line torn by a crash: the rest still counts
        if isinstance(record, dict) and isinstance(record.get("tag"), str) and isinstance(record.get("id"), str):
            records.append(record)
    return records


def record_image(tag: str, image_id: str) -> None:
    """Remember that a stamp of this cache named ``tag`` (once per tag and ID)."""
    if any(r["tag"] == tag and r["id"] == image_id for r in _history()):
        return
    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # One short O_APPEND write: concurrent builds interleave whole lines, never parts.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps({"tag": tag, "id": image_id}, sort_keys=True) + "\n").encode())
    finally:
        os.close(fd)


def current_images() -> dict[str, str]:
    """tag -> image ID of every stamp in this cache."""
    current = {}
    root = _stamps_dir()
    if not root.is_dir():
        return current
    for stamp in root.rglob("*.json"):
        if stamp.name.endswith(".inputs.json"):
            continue
        try:
            record = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("tag"), str):
            current[record["tag"]] = str(record.get("id", ""))
    return current


def image_candidates(history: Iterable[Mapping[str, str]], current: Mapping[str, str],
                     existing: Mapping[str, str], used_ids: set[str]) -> list[StaleImage]:
    """Pure: the history's images the daemon still holds that nothing current or in use needs.

    ``existing`` maps tag -> image ID on the daemon now. Newest first, so a
    derived image goes before the parent it was built on.
    """
    current_ids = set(current.values())
    stale: dict[str, StaleImage] = {}
    for record in reversed(list(history)):
        tag = record["tag"]
        image_id = existing.get(tag)
        if (tag in current or tag in stale or image_id is None or image_id != record["id"]
                or image_id in current_ids or image_id in used_ids):
            continue
        stale[tag] = StaleImage(tag, image_id)
    return list(stale.values())


def stale_images() -> list[StaleImage]:
    from .dockerhost import client

    docker = client()
    history = _history()
    if not history:
        return []
    existing = {}
    for record in history:
        try:
            existing[record["tag"]] = docker.images.get(record["tag"]).id
        except Exception:  # noqa: BLE001 - gone already (docker.errors.ImageNotFound) or unreadable
            continue
    used = {c.attrs.get("Image", "") for c in docker.containers.list(all=True)}
    return image_candidates(history, current_images(), existing, used)


def is_abandoned_temp(path: Path) -> bool:
    """A hidden temp file no writer holds: what a killed atomic write left behind."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a writer still holds it
    finally:
        os.close(fd)
    return True


def _current_bootstrap_digest() -> str | None:
    try:
        from .imagebuild import bootstrap_tag
        upstream = json.loads((paths.images_dir() / "base" / "upstream.json").read_text(encoding="utf-8"))
        return bootstrap_tag(upstream["bootstrap"])[0]
    except Exception:  # noqa: BLE001 - no readable recipe: keep every offline base
        return None


def stale_store_files() -> list[Path]:
    """Store files no stamp of this cache needs, and abandoned temp files."""
    store = paths.store_dir()
    if not store.is_dir():
        return []
    current_ids = {image_id.split(":", 1)[-1] for image_id in current_images().values()}
    bootstrap = _current_bootstrap_digest()
    stale = []
    for path in sorted(store.iterdir()):
        if not path.is_file():
            continue
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            if is_abandoned_temp(path):
                stale.append(path)
            continue
        base = _BOOTSTRAP_RE.match(path.name)
        if base:
            if bootstrap is not None and base.group("digest") != bootstrap:
                stale.append(path)
            continue
        by_id = _STORE_ID_RE.match(path.name)
        if by_id and by_id.group("id") not in current_ids:
            stale.append(path)
    return stale
