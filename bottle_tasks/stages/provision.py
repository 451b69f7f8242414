"""provision:<agent> — CA trust, gitconfig, MCP registration, prompt and skills in the agent.

    up:A ─> provision:A ─> start:A
"""
from __future__ import annotations

from ..actions import action
from ..errors import BottleError
from ..graph import agents
from .common import broken, dep, group

__all__ = ["task_provision"]

DOC = "provision the running agent container (CA, git, MCP server, prompt, skills)"


def _pending(slug: str) -> None:
    raise BottleError(f"provisioning {slug} is not implemented yet (issue #5)")


def task_provision():
    yield group("provision", DOC)
    for entry in agents():
        if entry.plan is None:
            yield broken(entry, DOC, [dep("plan", entry), dep("up", entry)])
            continue
        yield {"name": entry.name, "doc": DOC, "actions": [action(_pending, entry.name)],
               "task_dep": [dep("plan", entry), dep("up", entry)]}
