"""render:<agent> — compose file, routes, supervisord, git-gate and supervise configs.

    plan.json ─┐
    ca:A ──────┴─> render:A ──> state/<slug>/rendered/* ──> up:A
"""
from __future__ import annotations

from ..actions import action
from ..errors import BottleError
from ..graph import agents, plan_path
from .common import broken, dep, group

__all__ = ["task_render"]

DOC = "render the bottle's compose project and sidecar configs from its plan"


def _pending(slug: str) -> None:
    raise BottleError(f"rendering {slug} is not implemented yet (issue #5)")


def task_render():
    yield group("render", DOC)
    for entry in agents():
        if entry.plan is None:
            yield broken(entry, DOC, [dep("plan", entry), dep("ca", entry)])
            continue
        yield {"name": entry.name, "doc": DOC, "actions": [action(_pending, entry.name)],
               "file_dep": [str(plan_path(entry.name))],
               "task_dep": [dep("plan", entry), dep("ca", entry)]}
