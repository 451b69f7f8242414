"""The git gate in the real sidecars image, in front of a real sshd git upstream container.

The host renders the gate's files from a plan (``host.prepare``, ``gate_mounts``)
exactly as the render stage does. The sidecars container has the bundle's
capability set and starts the gate in one of two ways:

- ``root``: the daemon entry (``daemon.command()``) as root copies the keys
  itself, drops to ``bottle`` and serves git daemon;
- ``boot``: the sidecars boot prepares the daemon user's files (key copies
  included) as root, then the daemon entry runs as ``bottle``, as under
  supervisord's ``user=bottle``.

The agent is a git client on the host talking to the gate's port published on 127.0.0.1.
"""
from __future__ import annotations

import socket
import time

import pytest

from bottle_tasks import labels as lbl
from bottle_tasks.gitgate import host
from bottle_tasks.gitgate.config import gate_mounts
from bottle_tasks.gitgate.daemon import command
from bottle_tasks.plan import Remote
from bottle_tasks.sidecar import (CA_DIR, DAEMON_USER, GIT_DIR, GIT_GATE_CONF, GIT_GATE_PORT, LOG_DIR,
                                  QUEUE_DIR, VENV)
from tests.integration.conftest import TEST_LABEL
from tests.unit.gitgate.conftest import aws_key_line, commit_file, git, make_plan

from .gitgate_fixtures import run, ssh_keypair, start_ssh_upstream

TOKEN_ENV = "BOTTLE_TEST_TOKEN"
TOKEN = "real-" + "7c3e9a1f" * 4


def _wait_for_port(port: int, container, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status != "running":
            raise AssertionError(f"{what} exited:\n{container.logs().decode(errors='replace')}")
        if b"Ready to rumble" in container.logs():
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not listen within {timeout} s:\n{container.logs().decode(errors='replace')}")


BOOT_THEN_DROP = """
import os, pwd, sys
from bottle_tasks.sidecar.boot import prepare
prepare()
pw = pwd.getpwnam(sys.argv[1])
os.setgroups([]); os.setgid(pw.pw_gid); os.setuid(pw.pw_uid)
os.environ["HOME"] = pw.pw_dir
os.execv(sys.argv[2], sys.argv[2:])
"""


def _entrypoint(mode: str) -> list[str]:
    gate = command(GIT_GATE_CONF)
    if mode == "root":
        return gate
    return [f"{VENV}/bin/python", "-c", BOOT_THEN_DROP, DAEMON_USER, *gate]


@pytest.fixture(scope="module", params=["root", "boot"])
def stack(request, docker_client, image_session, test_run_id, tmp_path_factory):
    mode = request.param
    client = docker_client
    labels = {**lbl.managed_labels(slug=f"test-{test_run_id}", role="test"), TEST_LABEL: test_run_id}
    tmp = tmp_path_factory.mktemp("gitgate")
    private, public = ssh_keypair()
    key = tmp / "host-keys" / "bottle_id"
    key.parent.mkdir()
    key.write_bytes(private)
    key.chmod(0o600)
    network = client.networks.create(f"gitgate-{mode}-{test_run_id}", labels=labels)
    upstream = start_ssh_upstream(client, network, labels, public, name=f"gitgate-upstream-{mode}-{test_run_id}")
    _, impostor_public = ssh_keypair()
    host_repo = tmp / "host-repo"
    git("init", "-q", "-b", "main", str(host_repo))
    host_base = commit_file(host_repo, "app.py", "print('host')\n", "host work")

    plan = make_plan(
        [Remote(name="origin", upstream=upstream.url, identity_file=str(key),
                known_host_key=upstream.host_key_line),
         Remote(name="impostor", upstream=upstream.url, identity_file=str(key),
                known_host_key=" ".join(impostor_public.split()[:2]))],
        workspace=str(host_repo), token_refs=(TOKEN_ENV,))
    state = tmp / "state"
    host.prepare(plan, state)
    logs = state / "logs"
    logs.mkdir()
    mirrors = client.volumes.create(f"gitgate-mirrors-{mode}-{test_run_id}", labels=labels)
    volumes = [f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}" for m in gate_mounts(plan, state)]
    volumes += [f"{logs}:{LOG_DIR}:rw", f"{mirrors.name}:{GIT_DIR}:rw"]
    if mode == "boot":
        ca = tmp / "ca"
        ca.mkdir()
        (ca / "mitmproxy-ca.pem").write_text("not a real CA; boot only copies it\n")
        volumes.append(f"{ca}:{CA_DIR}:ro")
    gate = client.containers.run(
        image_session["tags"]["sidecars"],
        entrypoint=_entrypoint(mode), command=[], detach=True, labels=labels, network=network.name,
        name=f"gitgate-sidecars-{mode}-{test_run_id}",
        environment={TOKEN_ENV: TOKEN}, volumes=volumes, read_only=True,
        tmpfs={"/tmp": "", "/run": "", f"/home/{DAEMON_USER}": "mode=0755", QUEUE_DIR: ""},
        cap_drop=["ALL"], cap_add=["CHOWN", "SETUID", "SETGID", "KILL"],
        security_opt=["no-new-privileges:true"],
        ports={f"{GIT_GATE_PORT}/tcp": ("127.0.0.1", None)})
    gate.reload()
    port = int(gate.attrs["NetworkSettings"]["Ports"][f"{GIT_GATE_PORT}/tcp"][0]["HostPort"])
    _wait_for_port(port, gate, "the git gate")
    yield {"gate": gate, "upstream": upstream, "port": port, "tmp": tmp, "state": state, "plan": plan,
           "host_repo": host_repo, "host_base": host_base, "logs": logs}
    for container in (gate, upstream.container):
        container.remove(force=True, v=True)
    mirrors.remove(force=True)
    network.remove()


def url(stack, name: str) -> str:
    return f"git://127.0.0.1:{stack['port']}/{name}.git"


def clone(stack, name: str, dest: str):
    target = stack["tmp"] / dest
    git("clone", "-q", url(stack, name), str(target))
    return target


def rev(repo, ref):
    return git("rev-parse", "--verify", "--quiet", ref, cwd=repo, check=False).stdout.strip()


def test_key_is_readable_only_by_bottle_and_the_daemon_runs_as_bottle(stack):
    gate = stack["gate"]
    stat = run(gate, "stat -c '%U %a' /home/bottle/keys /home/bottle/keys/origin/id", user=DAEMON_USER)
    (dir_owner, dir_mode), (key_owner, key_mode) = (line.split() for line in stat.splitlines()[:2])
    assert dir_owner == key_owner == DAEMON_USER
    assert int(dir_mode, 8) & 0o077 == 0 and int(key_mode, 8) & 0o077 == 0
    # Neither another user nor root without CAP_DAC_OVERRIDE (the bundle drops it) can read it.
    assert gate.exec_run(["cat", "/home/bottle/keys/origin/id"], user="nobody").exit_code != 0
    assert gate.exec_run(["cat", "/home/bottle/keys/origin/id"], user="root").exit_code != 0
    # The bind-mounted original keeps the host's owner and mode: the daemon user cannot read it.
    assert gate.exec_run(["cat", "/run/claude-bottle/keys/origin/id"], user=DAEMON_USER).exit_code != 0
    users = run(gate, "ps -o user= -C git-daemon").split()
    assert users and set(users) == {DAEMON_USER}


def test_clone_commit_push_feature_reaches_the_ssh_upstream(stack):
    work = clone(stack, "origin", "agent-origin")
    assert (work / "README.md").read_text() == "upstream readme\n"
    git("checkout", "-q", "-b", "agent/feature", cwd=work)
    sha = commit_file(work, "feature.py", "def feature():\n    return 42\n", "add feature")
    push = git("push", "origin", "agent/feature", cwd=work)
    assert "git-gate: pushed agent/feature" in push.stderr
    assert stack["upstream"].rev("refs/heads/agent/feature") == sha
    assert '"event": "push"' in (stack["logs"] / "git-gate.jsonl").read_text()


def test_aws_key_push_is_refused_with_file_and_line_and_upstream_unchanged(stack):
    work = clone(stack, "origin", "agent-leak")
    git("checkout", "-q", "-b", "agent/leak", cwd=work)
    commit_file(work, "deploy/settings.py", f"BUCKET = 'assets'\nREGION = 'eu-west-1'\n{aws_key_line()}\n")
    push = git("push", "origin", "agent/leak", cwd=work, check=False)
    assert push.returncode != 0
    assert "deploy/settings.py line 3" in push.stderr and "AWS Access Key" in push.stderr
    assert stack["upstream"].rev("refs/heads/agent/leak") == ""


def test_the_bottles_real_token_cannot_be_pushed(stack):
    work = clone(stack, "origin", "agent-token")
    git("checkout", "-q", "-b", "agent/token", cwd=work)
    commit_file(work, "ci.env", f"TOKEN={TOKEN}\n")
    push = git("push", "origin", "agent/token", cwd=work, check=False)
    assert "ci.env line 1" in push.stderr and TOKEN_ENV in push.stderr and TOKEN not in push.stderr
    assert stack["upstream"].rev("refs/heads/agent/token") == ""


def test_force_push_and_delete_of_the_protected_branch_are_refused(stack):
    before = stack["upstream"].rev("refs/heads/main")
    work = clone(stack, "origin", "agent-force")
    git("checkout", "-q", "--orphan", "rewrite", cwd=work)
    commit_file(work, "other.txt", "history rewritten\n")
    forced = git("push", "--force", "origin", "rewrite:main", cwd=work, check=False)
    assert "'main' is a protected branch: non-fast-forward" in forced.stderr
    deleted = git("push", "origin", ":main", cwd=work, check=False)
    assert "'main' is a protected branch and cannot be deleted" in deleted.stderr
    assert stack["upstream"].rev("refs/heads/main") == before


def test_an_upstream_presenting_another_host_key_is_never_trusted(stack):
    fetch = git("clone", url(stack, "impostor"), str(stack["tmp"] / "impostor"), check=False)
    assert fetch.returncode != 0
    assert "git-gate: cannot refresh 'impostor'" in fetch.stderr
    assert "Host key verification failed" in fetch.stderr


def test_workspace_clone_and_push_go_through_the_outbox(stack):
    work = clone(stack, "workspace", "agent-workspace")
    assert (work / "app.py").read_text() == "print('host')\n"
    git("checkout", "-q", "-b", "agent/fix", cwd=work)
    sha = commit_file(work, "app.py", "print('fixed')\n", "fix")
    git("push", "-q", "origin", "agent/fix", cwd=work)
    host_repo = stack["host_repo"]
    assert rev(host_repo, "refs/heads/agent/fix") == ""
    assert rev(host_repo, "refs/heads/main") == stack["host_base"]
    fetch = host.operator_fetch_command(stack["plan"], stack["state"])
    git(*fetch[1:], cwd=host_repo)
    assert rev(host_repo, "refs/remotes/bottle-dev/agent/fix") == sha


def test_upstream_down_means_the_gate_serves_nothing(stack):
    work = clone(stack, "origin", "agent-down")
    stack["upstream"].container.stop(timeout=2)
    try:
        fetch = git("fetch", "origin", cwd=work, check=False)
        assert fetch.returncode != 0
        assert "git-gate: cannot refresh 'origin'" in fetch.stderr
        assert "refusing to serve possibly stale data" in fetch.stderr
    finally:
        stack["upstream"].container.start()
    deadline = time.monotonic() + 30
    while git("fetch", "origin", cwd=work, check=False).returncode != 0:
        assert time.monotonic() < deadline, "the gate did not recover when the upstream came back"
        time.sleep(0.5)
