"""save — ``docker save`` tarballs of the images into the content-addressed store.

    build:<agent> ──> save:<agent> ──> $CLAUDE_BOTTLE_CACHE/store/<image id>-<image>.tar
    build:base ─────> save:base ─────> (same store)
    build:agent ────> save:agent ────> (same store)
    build:sidecars ─> save:sidecars ─> (same store)

``build`` loads an image from the store when the daemon lacks it and the
stamp's digest still matches, so a CI runner that restores
``$CLAUDE_BOTTLE_CACHE`` loads instead of rebuilding.

The store file is named by the image ID (never by the bytes of ``docker
save``, which are not reproducible), so it is up to date exactly when a file
of that name exists, whatever doit's database says. Files appear under their
final name only once complete.
"""
from __future__ import annotations

from pathlib import Path

from .. import imagebuild, store
from ..actions import action
from ..errors import BottleError
from ..graph import agents
from .common import broken, dep, group

__all__ = ["task_save", "save_stamped", "is_saved"]

DOC = "save the images into the artifact store (a fresh daemon then loads them instead of building)"
SHARED = ("base", "agent", "sidecars")


def _image_name(record: dict) -> str:
    """``agent`` for ``claude-bottle/agent:0be75c6dda55``."""
    return record["tag"].split("/", 1)[-1].split(":", 1)[0]


def _artifact(record: dict) -> Path:
    return store.image_artifact(record["id"], _image_name(record))


def is_saved(stamp: str) -> bool:
    """doit ``uptodate``: the store holds the stamped image under its ID."""
    record = imagebuild.read_stamp(Path(stamp))
    return bool(record) and _artifact(record).is_file()


def save_stamped(stamp: str, build_task: str) -> dict:
    record = imagebuild.read_stamp(Path(stamp))
    if not record:
        raise BottleError(f"no image recorded at {stamp}; run `doit {build_task}` first")
    dest = _artifact(record)
    if not dest.is_file():
        store.save_image(record["tag"], record["id"], _image_name(record))
    return {"artifact": str(dest), "id": record["id"]}


def _save_task(name: str, stamp: Path, build_task: str, doc: str) -> dict:
    return {
        "name": name,
        "doc": doc,
        "actions": [action(save_stamped, str(stamp), build_task)],
        "uptodate": [(is_saved, [str(stamp)])],
        "task_dep": [build_task],
        "verbosity": 2,
    }


def task_save():
    yield group("save", DOC)
    # Every shared image, the base included: a fresh daemon given this store loads
    # each one under its old ID, so the children's digests (keyed by the parent's
    # ID) still match and nothing is rebuilt.
    for name in SHARED:
        yield _save_task(name, imagebuild.stamp_path(name), f"build:{name}",
                         f"save the {name} image into the artifact store")
    for entry in agents():
        doc = f"save the image {entry.name} runs in into the artifact store"
        if entry.plan is None:
            yield broken(entry, doc, [dep("build", entry)])
            continue
        yield _save_task(entry.name, imagebuild.agent_stamp_path(entry.name), dep("build", entry), doc)
