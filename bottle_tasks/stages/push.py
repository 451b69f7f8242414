"""push:<agent> — the agent's saved image into an ephemeral local registry.

    save:A ──> push:A ──> registry localhost:<port>/claude-bottle/A:<id12> ──> pack:A

Up to date when the store already holds the pack of the agent's current
image (``<image id>.smolmachine``): the registry only exists to feed
``smolvm pack create``, so with the pack in hand there is nothing to push.
The push is checked: the registry's manifest must name the image ID as its
config. The registry stays up for pack:A in the same run and is removed when
pack finishes, when anything fails, or when the run ends.
"""
from __future__ import annotations

from ..actions import action
from ..backends.pipeline import is_packed, push_agent
from ..graph import agents
from .common import broken, dep, group

__all__ = ["task_push"]

DOC = "push an agent's saved image into an ephemeral local registry (for pack)"


def task_push():
    yield group("push", DOC)
    for entry in agents():
        deps = [dep("save", entry)]
        if entry.plan is None:
            yield broken(entry, DOC, deps)
            continue
        yield {"name": entry.name, "doc": f"{DOC} ({entry.name})", "actions": [action(push_agent, entry.name)],
               "task_dep": deps, "uptodate": [(is_packed, [entry.name])], "verbosity": 2}
