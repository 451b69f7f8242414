"""Branch policy: deletes and force-pushes of protected branches, push prefix, tags, odd refs."""
from __future__ import annotations

import pytest

from bottle_tasks.gitgate.policy import RefUpdate, check_update, parse_updates, protected_patterns

Z = "0" * 40
A = "a" * 40
B = "b" * 40
PROTECTED = protected_patterns(["release/*"], "refs/heads/main")


def verdict(old, new, ref, ff=None, prefix=None):
    return check_update(RefUpdate(old, new, ref), protected=PROTECTED, push_prefix=prefix, fast_forward=ff)


def test_default_branch_is_protected_along_with_configured_patterns():
    assert PROTECTED == ("release/*", "main")
    assert protected_patterns([], None) == ()


@pytest.mark.parametrize("ref", ["refs/heads/main", "refs/heads/release/1.2"])
def test_protected_branch_cannot_be_deleted_or_force_pushed_but_can_fast_forward(ref):
    assert "cannot be deleted" in str(verdict(A, Z, ref))
    assert "non-fast-forward (force) pushes are refused" in str(verdict(A, B, ref, ff=False))
    assert verdict(A, B, ref, ff=True) is None


def test_unprotected_branches_may_be_rewritten_and_deleted():
    assert verdict(A, B, "refs/heads/agent/x", ff=False) is None
    assert verdict(A, Z, "refs/heads/agent/x") is None
    assert verdict(Z, A, "refs/heads/agent/x") is None


def test_push_prefix_limits_branches_and_suggests_one():
    refusal = verdict(Z, A, "refs/heads/feature/login", prefix="agent/")
    assert refusal.ref == "refs/heads/feature/login"
    assert "only accepts branches under 'agent/'" in refusal.reason
    assert "HEAD:agent/login" in refusal.reason
    assert verdict(Z, A, "refs/heads/agent/login", prefix="agent/") is None
    assert verdict(Z, A, "refs/tags/v1", prefix="agent/") is not None


def test_tags_can_be_created_but_not_moved_or_deleted():
    assert verdict(Z, A, "refs/tags/v1") is None
    assert "not moved or deleted" in str(verdict(A, B, "refs/tags/v1"))
    assert "not moved or deleted" in str(verdict(A, Z, "refs/tags/v1"))


@pytest.mark.parametrize("ref", ["refs/notes/commits", "refs/remotes/origin/main", "HEAD", "refs/for/main"])
def test_refs_outside_heads_and_tags_are_refused(ref):
    assert "only branches" in str(verdict(Z, A, ref))


def test_parse_updates_reads_pre_receive_stdin():
    assert parse_updates([f"{Z} {A} refs/heads/x\n", "\n"]) == [RefUpdate(Z, A, "refs/heads/x")]
