"""The whole gate (daemon entry, git daemon, access and pre-receive hooks) on 127.0.0.1 with local upstreams.

The agent is a git client on the host talking git:// to the gate; the
upstream is a bare repository on disk. The docker integration test repeats
the acceptance path against an ssh upstream in containers.
"""
from __future__ import annotations

import shutil

import pytest

from bottle_tasks.gitgate.host import ensure_outbox

from .conftest import aws_key_line, bare_upstream, commit_file, git

TOKEN = "ghp-like-" + "5e1f0a9b" * 3


@pytest.fixture
def upstream(tmp_path):
    return bare_upstream(tmp_path / "upstream.git")


@pytest.fixture
def gate(local_gate, upstream):
    return local_gate([{"name": "origin", "upstream": str(upstream), "protected_branches": ["release/*"]},
                       {"name": "scoped", "upstream": str(upstream), "push_prefix": "agent/"}],
                      env={"BOTTLE_GH_TOKEN": TOKEN}, extra_env_names=["BOTTLE_GH_TOKEN"])


@pytest.fixture
def clone(gate, tmp_path):
    work = tmp_path / "agent"
    git("clone", "-q", gate.url("origin"), str(work))
    return work


def rev(repo, ref):
    return git("rev-parse", "--verify", "--quiet", ref, cwd=repo, check=False).stdout.strip()


def test_clone_commit_push_feature_reaches_upstream(gate, clone, upstream):
    assert (clone / "README.md").read_text() == "hello\n"
    git("checkout", "-q", "-b", "agent/feature", cwd=clone)
    sha = commit_file(clone, "feature.txt", "new work\n")
    push = git("push", "origin", "agent/feature", cwd=clone)
    assert "git-gate: pushed agent/feature" in push.stderr
    assert rev(upstream, "refs/heads/agent/feature") == sha
    assert [e["accepted"] for e in gate.events() if e["event"] == "push"] == [True]


def test_push_with_aws_key_is_refused_naming_file_and_line(gate, clone, upstream):
    git("checkout", "-q", "-b", "agent/leak", cwd=clone)
    commit_file(clone, "app/config.py", f"REGION = 'eu-west-1'\n{aws_key_line()}\n")
    push = git("push", "origin", "agent/leak", cwd=clone, check=False)
    assert push.returncode != 0
    assert "app/config.py line 2" in push.stderr and "AWS Access Key" in push.stderr
    assert "AKIA" not in push.stderr
    assert rev(upstream, "refs/heads/agent/leak") == ""
    assert rev(gate.root / "git/origin.git", "refs/heads/agent/leak") == ""


def test_push_with_the_bottles_own_token_is_refused(gate, clone, upstream):
    git("checkout", "-q", "-b", "agent/token", cwd=clone)
    commit_file(clone, "notes.md", f"token: {TOKEN}\n")
    push = git("push", "origin", "agent/token", cwd=clone, check=False)
    assert "notes.md line 1" in push.stderr and "BOTTLE_GH_TOKEN" in push.stderr
    assert TOKEN not in push.stderr
    assert rev(upstream, "refs/heads/agent/token") == ""


def test_force_push_and_delete_of_protected_branches_are_refused(gate, clone, upstream):
    before = rev(upstream, "refs/heads/main")
    git("checkout", "-q", "--orphan", "other", cwd=clone)
    commit_file(clone, "x.txt", "unrelated\n")
    forced = git("push", "--force", "origin", "other:main", cwd=clone, check=False)
    assert forced.returncode != 0
    assert "'main' is a protected branch: non-fast-forward" in forced.stderr
    deleted = git("push", "origin", ":main", cwd=clone, check=False)
    assert "'main' is a protected branch and cannot be deleted" in deleted.stderr
    assert rev(upstream, "refs/heads/main") == before

    git("checkout", "-q", "main", cwd=clone)
    git("push", "-q", "origin", "main:release/1.0", cwd=clone)
    git("reset", "-q", "--hard", "other", cwd=clone)
    release = git("push", "--force", "origin", "main:release/1.0", cwd=clone, check=False)
    assert "'release/1.0' is a protected branch" in release.stderr


def test_fast_forward_to_main_and_force_push_of_agent_branch_are_allowed(gate, clone, upstream):
    sha = commit_file(clone, "README.md", "hello\nmore\n")
    git("push", "-q", "origin", "main", cwd=clone)
    assert rev(upstream, "refs/heads/main") == sha
    git("checkout", "-q", "-b", "agent/x", cwd=clone)
    commit_file(clone, "a.txt", "a\n")
    git("push", "-q", "origin", "agent/x", cwd=clone)
    git("commit", "-q", "--amend", "-m", "reworded", cwd=clone)
    git("push", "-q", "--force", "origin", "agent/x", cwd=clone)
    assert rev(upstream, "refs/heads/agent/x") == rev(clone, "HEAD")


def test_push_prefix_restricts_branches(gate, tmp_path, upstream):
    work = tmp_path / "scoped"
    git("clone", "-q", gate.url("scoped"), str(work))
    commit_file(work, "b.txt", "b\n")
    refused = git("push", "origin", "HEAD:feature", cwd=work, check=False)
    assert "only accepts branches under 'agent/'" in refused.stderr
    assert rev(upstream, "refs/heads/feature") == ""
    git("push", "-q", "origin", "HEAD:agent/feature", cwd=work)
    assert rev(upstream, "refs/heads/agent/feature") == rev(work, "HEAD")


def test_upstream_down_means_fetch_fails_and_no_stale_data(gate, clone, upstream, tmp_path):
    moved = tmp_path / "elsewhere.git"
    shutil.move(upstream, moved)
    fetch = git("fetch", "origin", cwd=clone, check=False)
    assert fetch.returncode != 0
    assert "git-gate: cannot refresh 'origin'" in fetch.stderr
    fresh = git("clone", gate.url("origin"), str(tmp_path / "fresh"), check=False)
    assert fresh.returncode != 0
    shutil.move(moved, upstream)
    assert git("fetch", "origin", cwd=clone, check=False).returncode == 0


def test_upstream_changes_are_visible_on_the_next_fetch(gate, clone, upstream, tmp_path):
    other = tmp_path / "other"
    git("clone", "-q", str(upstream), str(other))
    sha = commit_file(other, "README.md", "changed upstream\n")
    git("push", "-q", "origin", "main", cwd=other)
    git("push", "-q", "origin", "main:gone-soon", cwd=other)
    git("fetch", "-q", "origin", cwd=clone)
    assert rev(clone, "refs/remotes/origin/main") == sha
    git("push", "-q", "origin", ":gone-soon", cwd=other)
    listed = git("ls-remote", gate.url("origin"), cwd=clone).stdout
    assert "gone-soon" not in listed and sha in listed


def test_unknown_repository_is_not_served(gate, tmp_path):
    probe = git("ls-remote", gate.url("upstream"), cwd=tmp_path, check=False)
    assert probe.returncode != 0


def test_workspace_pushes_land_in_the_outbox_never_in_the_host_repo(local_gate, tmp_path):
    host_repo = tmp_path / "host-repo"
    git("init", "-q", "-b", "main", str(host_repo))
    base = commit_file(host_repo, "src.py", "print('hi')\n", "host work")
    outbox = ensure_outbox(tmp_path / "state/outbox/workspace.git")
    gate = local_gate([{"name": "workspace", "upstream": str(host_repo), "push_url": str(outbox)}])
    agent = tmp_path / "agent-ws"
    git("clone", "-q", gate.url("workspace"), str(agent))
    git("checkout", "-q", "-b", "agent/fix", cwd=agent)
    sha = commit_file(agent, "src.py", "print('fixed')\n", "fix")
    push = git("push", "origin", "agent/fix", cwd=agent)
    assert "the outbox the operator fetches from" in push.stderr
    assert rev(outbox, "refs/heads/agent/fix") == sha
    assert rev(host_repo, "refs/heads/agent/fix") == ""
    assert rev(host_repo, "refs/heads/main") == base
    # The agent's branch survives the next refresh from the (unchanged) host repository.
    assert sha in git("ls-remote", gate.url("workspace"), cwd=agent).stdout
    git("fetch", "-q", str(outbox), "+refs/heads/*:refs/remotes/bottle-dev/*", cwd=host_repo)
    assert rev(host_repo, "refs/remotes/bottle-dev/agent/fix") == sha
