"""Pieces every stage module shares."""
from __future__ import annotations

from ..actions import action
from ..errors import BottleError
from ..graph import AgentEntry

__all__ = ["group", "broken", "dep"]


def group(basename: str, doc: str) -> dict:
    """The ``<stage>`` group task, carrying the doc that ``doit list`` shows."""
    return {"basename": basename, "name": None, "doc": doc}


def _fail(message: str) -> None:
    raise BottleError(message)


def broken(entry: AgentEntry, doc: str, task_dep: list[str] | None = None) -> dict:
    """A subtask for an agent whose manifests do not resolve: running it shows why."""
    return {
        "name": entry.name,
        "doc": doc,
        "actions": [action(_fail, entry.error or "unknown error")],
        "task_dep": task_dep or [],
        "uptodate": [False],
    }


def dep(stage: str, entry: AgentEntry) -> str:
    return f"{stage}:{entry.name}"
