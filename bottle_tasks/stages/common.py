"""Pieces every stage module shares."""
from __future__ import annotations

import difflib
import functools
from typing import Any, Callable, Iterator

from ..actions import action
from ..errors import BottleError
from ..graph import AgentEntry, agents

__all__ = ["group", "broken", "dep", "per_agent", "answers_unknown_agents"]


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


def _no_agent(stage: str, name: str) -> str:
    from ..graph import workspace
    from ..manifests import default_search_paths

    known = sorted(e.name for e in agents())
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean: {stage}:{close[0]}?)" if close else ""
    dirs = ", ".join(str(d) for d in default_search_paths(workspace()).agents)
    return (f"no agent named '{name}'{hint}; agents: {', '.join(known) or 'none'} - an agent is "
            f"<name>.md in one of: {dirs}")


def answers_unknown_agents(task_creator: Callable[[], Iterator[dict]]) -> Callable[[], Iterator[dict]]:
    """``<stage>:<name>`` asked for on the command line, with no such agent, fails saying which agents exist.

    Without it doit answers only 'Invalid parameter: "start:nobody"'.
    """
    from ..invocation import requested_targets

    @functools.wraps(task_creator)
    def creator() -> Iterator[dict]:
        stage, names, params = None, set(), []
        for task in task_creator():
            if task.get("name") is None:
                stage = task["basename"]
            else:
                names.add(task["name"])
            params = params or task.get("params", [])  # so the stage's own options still parse
            yield task
        for target in requested_targets():
            base, sep, name = target.partition(":")
            if stage is None or base != stage or not sep or not name or name in names:
                continue
            names.add(name)
            yield {"name": name, "doc": "no such agent", "actions": [action(_fail, _no_agent(stage, name))],
                   "params": params, "uptodate": [False]}

    return creator
