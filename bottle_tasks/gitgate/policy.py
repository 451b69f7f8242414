"""Which pushed ref updates the gate accepts: a pure function of the update and the remote's policy.

Branches matching a protected pattern (and always the upstream's default
branch) cannot be deleted or moved by a non-fast-forward update. With a push
prefix, only branches under it may be pushed. Tags may be created but never
moved or deleted; refs outside ``refs/heads/`` and ``refs/tags/`` are refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Iterable, Sequence

__all__ = ["RefUpdate", "Refusal", "parse_updates", "protected_patterns", "is_protected", "check_update"]

HEADS = "refs/heads/"
TAGS = "refs/tags/"


def _is_zero(oid: str) -> bool:
    return set(oid) == {"0"}


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str

    @property
    def is_create(self) -> bool:
        return _is_zero(self.old)

    @property
    def is_delete(self) -> bool:
        return _is_zero(self.new)

    @property
    def short(self) -> str:
        return self.ref.removeprefix(HEADS).removeprefix(TAGS)


@dataclass(frozen=True)
class Refusal:
    ref: str
    reason: str

    def __str__(self) -> str:
        return f"{self.ref}: {self.reason}"


def parse_updates(lines: Iterable[str]) -> list[RefUpdate]:
    """The ``<old> <new> <ref>`` lines git feeds a pre-receive hook."""
    updates = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            updates.append(RefUpdate(*parts))
    return updates


def protected_patterns(configured: Sequence[str], default_branch: str | None) -> tuple[str, ...]:
    patterns = [p.removeprefix(HEADS) for p in configured]
    if default_branch:
        patterns.append(default_branch.removeprefix(HEADS))
    return tuple(dict.fromkeys(patterns))


def is_protected(branch: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(branch, p) for p in patterns)


def check_update(update: RefUpdate, *, protected: Sequence[str], push_prefix: str | None,
                 fast_forward: bool | None) -> Refusal | None:
    """None when ``update`` may go upstream, else why not (worded for the agent).

    ``fast_forward`` says whether ``new`` descends from ``old`` for an update
    of an existing ref (None for creates and deletes).
    """
    ref = update.ref
    if ref.startswith(TAGS):
        if push_prefix:
            return Refusal(ref, f"this remote only accepts branches under '{push_prefix}'; "
                                "tags cannot be pushed through the gate")
        if not update.is_create:
            return Refusal(ref, "tags can be created but not moved or deleted through the gate")
        return None
    if not ref.startswith(HEADS):
        return Refusal(ref, "only branches (refs/heads/...) and tags (refs/tags/...) can be pushed")
    branch = ref[len(HEADS):]
    if push_prefix and not branch.startswith(push_prefix):
        return Refusal(ref, f"this remote only accepts branches under '{push_prefix}'; "
                            f"push to {push_prefix}{branch.rsplit('/', 1)[-1]} instead, e.g. "
                            f"`git push origin HEAD:{push_prefix}{branch.rsplit('/', 1)[-1]}`")
    if is_protected(branch, protected):
        if update.is_delete:
            return Refusal(ref, f"'{branch}' is a protected branch and cannot be deleted")
        if not update.is_create and fast_forward is False:
            return Refusal(ref, f"'{branch}' is a protected branch: non-fast-forward (force) pushes are "
                                f"refused; fetch, rebase your work onto the remote '{branch}' and push "
                                "again, or push your work to a new branch")
    return None
