"""build — the images every bottle runs on.

    build:base ─┬─> build:agent ────> build:<agent>  (derived image: bottle capabilities)
                └─> build:sidecars        ▲
                                   plan:<agent>
"""
from __future__ import annotations

from ..actions import action
from ..errors import BottleError
from ..graph import agents
from ..paths import images_dir
from .common import broken, dep, group

__all__ = ["task_build"]

DOC = "build the base, agent and sidecars images and each bottle's derived agent image"


def _pending(what: str) -> None:
    raise BottleError(f"building {what} is not implemented yet (issue #3)")


def _context_files(name: str) -> list[str]:
    root = images_dir() / name
    return sorted(str(p) for p in root.rglob("*") if p.is_file())


def task_build():
    yield group("build", DOC)
    yield {"name": "base", "doc": "the pinned Debian base image (pulled, or bootstrapped offline)",
           "actions": [action(_pending, "base")], "file_dep": _context_files("base")}
    yield {"name": "agent", "doc": "the agent image: Node.js, Claude Code, git, user node",
           "actions": [action(_pending, "agent")], "file_dep": _context_files("agent"),
           "task_dep": ["build:base"]}
    yield {"name": "sidecars", "doc": "the sidecars image: mitmproxy, supervisord, MCP server, git daemon",
           "actions": [action(_pending, "sidecars")], "file_dep": _context_files("sidecars"),
           "task_dep": ["build:base"]}
    for entry in agents():
        doc = f"the agent image for {entry.name}'s bottle (with its capabilities)"
        if entry.plan is None:
            yield broken(entry, doc, [dep("plan", entry), "build:agent"])
            continue
        yield {"name": entry.name, "doc": doc,
               "actions": [action(_pending, f"the derived image for {entry.name}")],
               "task_dep": [dep("plan", entry), "build:agent"]}
