"""start:<agent> — build what is missing, bring the bottle up, attach to Claude Code.

    plan:A ─> build ─> ca:A ─> render:A ─> up:A ─> provision:A ─> start:A (attach)

``doit start:researcher --yes`` skips the y/N question; ``cwd=PATH`` and
``backend=NAME`` (doit variables) are plan options.
"""
from __future__ import annotations

from ..actions import action
from ..errors import BottleError
from ..graph import agents
from .common import broken, dep, group

__all__ = ["task_start"]

DOC = "start an agent in its bottle and attach to Claude Code (--yes: no question)"

PARAMS = [
    {"name": "yes", "short": "y", "long": "yes", "type": bool, "default": False,
     "help": "start without asking to confirm the preflight"},
]


def _pending(slug: str, yes: bool = False) -> None:
    raise BottleError(f"attaching to {slug} is not implemented yet (issue #5)")


def task_start():
    yield group("start", DOC)
    for entry in agents():
        if entry.plan is None:
            yield {**broken(entry, DOC, [dep("plan", entry), dep("provision", entry)]), "params": PARAMS}
            continue
        yield {"name": entry.name, "doc": DOC, "actions": [action(_pending, entry.name)],
               "task_dep": [dep("plan", entry), dep("provision", entry)],
               "params": PARAMS, "uptodate": [False], "verbosity": 2}
