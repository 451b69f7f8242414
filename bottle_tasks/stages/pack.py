"""pack:<agent> — the agent's image as a smolvm microVM artifact in the store.

    build:A ─> save:A ─> push:A ─> pack:A ──> store/<image id>.smolmachine ──> up:A (smolmachines)

``smolvm pack create --image localhost:<port>/claude-bottle/A:<id12>`` pulls
from the registry push:A filled, and the payload is renamed into the store
only when complete. Named by the image ID, so a restored store directory is
up to date whatever doit's database says, and save/push/pack all run nothing.
"""
from __future__ import annotations

from ..actions import action
from ..backends.pipeline import is_packed, pack_agent
from ..graph import agents
from .common import broken, dep, group

__all__ = ["task_pack"]

DOC = "pack an agent's image into a smolvm microVM artifact (<image id>.smolmachine)"


def task_pack():
    yield group("pack", DOC)
    for entry in agents():
        deps = [dep("push", entry)]
        if entry.plan is None:
            yield broken(entry, DOC, deps)
            continue
        yield {"name": entry.name, "doc": f"{DOC} ({entry.name})", "actions": [action(pack_agent, entry.name)],
               "task_dep": deps, "uptodate": [(is_packed, [entry.name])], "verbosity": 2}
