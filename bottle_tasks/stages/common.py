"""Pieces every stage module shares."""
from __future__ import annotations

from typing import Any, Callable, Iterator

from ..actions import action
from ..errors import BottleError
from ..graph import AgentEntry, agents

__all__ = ["group", "broken", "dep", "per_agent"]


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


def per_agent(stage: str, doc: str, deps: Callable[[AgentEntry], list[str]],
              task: Callable[[AgentEntry], dict[str, Any]], shared: dict[str, Any] | None = None) -> Iterator[dict]:
    """The ``<stage>`` group and one ``<stage>:<agent>`` subtask per discovered agent.

    ``deps`` gives every subtask its task_dep, broken agents included, so ``doit
    info`` shows the real graph whatever state the manifests are in; ``task``
    fills in the rest for an agent whose plan resolved; ``shared`` goes on all.
    """
    yield group(stage, doc)
    for entry in agents():
        if entry.plan is None:
            yield {**broken(entry, doc, deps(entry)), **(shared or {})}
            continue
        yield {"name": entry.name, "doc": f"{doc} ({entry.name})", "task_dep": deps(entry),
               **(shared or {}), **task(entry)}
