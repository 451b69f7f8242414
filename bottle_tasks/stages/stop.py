"""stop:<agent> — stop the bottle's containers, keeping workspace and Claude state for a resume."""
from __future__ import annotations

from ..actions import action
from ..errors import BottleError
from ..graph import agents
from .common import group

__all__ = ["task_stop"]

DOC = "stop a running bottle, keeping its state for the next start"


def _pending(slug: str) -> None:
    raise BottleError(f"stopping {slug} is not implemented yet (issue #5)")


def task_stop():
    yield group("stop", DOC)
    for entry in agents():
        yield {"name": entry.name, "doc": DOC, "actions": [action(_pending, entry.name)],
               "uptodate": [False], "verbosity": 2}
