"""ca:<agent> — the bottle's egress CA, minted with ``cryptography``.

    plan:A ─> ca:A ──> state/<slug>/ca/{ca.pem, ca-key.pem} ──> render:A, up:A, provision:A
"""
from __future__ import annotations

from ..actions import action
from ..errors import BottleError
from ..graph import agents
from .common import broken, dep, group

__all__ = ["task_ca"]

DOC = "mint (or reuse while valid) the bottle's egress CA"


def _pending(slug: str) -> None:
    raise BottleError(f"minting the CA for {slug} is not implemented yet (issue #5)")


def task_ca():
    yield group("ca", DOC)
    for entry in agents():
        if entry.plan is None:
            yield broken(entry, DOC, [dep("plan", entry)])
            continue
        yield {"name": entry.name, "doc": DOC, "actions": [action(_pending, entry.name)],
               "task_dep": [dep("plan", entry)]}
