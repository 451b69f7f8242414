"""up:<agent> — bring the bottle's compose project up and wait for its daemons.

    build:<A>, build:sidecars, ca:A, render:A ─> up:A ─> provision:A
"""
from __future__ import annotations

from ..actions import action
from ..errors import BottleError
from ..graph import agents
from .common import broken, dep, group

__all__ = ["task_up"]

DOC = "start the bottle (agent + sidecars) and wait until its daemons answer"


def _pending(slug: str) -> None:
    raise BottleError(f"bringing {slug} up is not implemented yet (issue #5)")


def task_up():
    yield group("up", DOC)
    for entry in agents():
        deps = [dep("plan", entry), dep("build", entry), "build:sidecars", dep("ca", entry), dep("render", entry)]
        if entry.plan is None:
            yield broken(entry, DOC, deps)
            continue
        yield {"name": entry.name, "doc": DOC, "actions": [action(_pending, entry.name)], "task_dep": deps}
