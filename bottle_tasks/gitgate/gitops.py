"""The git subprocesses the gate runs: refreshing a mirror, pushing accepted refs onwards.

Every command runs with the gate's own global git config (``GIT_CONFIG_GLOBAL``),
no terminal prompts, and for ssh upstreams an ssh that only uses the bottle's
key and only trusts the pinned host key (``StrictHostKeyChecking=yes``).
"""
from __future__ import annotations

import base64
import fcntl
import os
import posixpath
import re
import shlex
import subprocess
from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence

from .config import GateConfig, GateRemote, upstream_kind
from .policy import RefUpdate

__all__ = ["GateError", "gate_env", "ssh_command", "git", "remote_lock", "refresh", "push_onwards",
           "gitconfig_path", "gate_gitconfig", "redact_url", "REFRESH_TIMEOUT", "PUSH_TIMEOUT"]

REFRESH_TIMEOUT = 300
PUSH_TIMEOUT = 600
_USERINFO_RE = re.compile(r"(://[^/@:]+):[^/@]*@")


class GateError(Exception):
    """Something the gate could not do; the message is shown to the agent."""


def redact_url(url: str) -> str:
    """``url`` without a password in its userinfo."""
    return _USERINFO_RE.sub(r"\1:***@", url)


def gitconfig_path(config: GateConfig) -> str:
    return posixpath.join(config.state_dir, "gitconfig")


def gate_gitconfig(config: GateConfig) -> str:
    """The gate's global git config: trust exactly the repositories it must read but does not own."""
    lines = ["[safe]"]
    for remote in config.remotes:
        for path in (remote.upstream, remote.push_url):
            if path and upstream_kind(path) == "local":
                path = path.removeprefix("file://").rstrip("/")
                # upload-pack checks the git dir itself: for a work tree that is <path>/.git.
                lines += [f"\tdirectory = {path}", f"\tdirectory = {path}/.git"]
    lines += ["[http]", "\tlowSpeedLimit = 1000", "\tlowSpeedTime = 60"]
    if config.ca_file:
        lines.append(f"\tsslCAInfo = {config.ca_file}")
    lines += ["[init]", "\tdefaultBranch = main", "[gc]", "\tautoDetach = false"]
    return "\n".join(lines) + "\n"


def ssh_command(remote: GateRemote) -> str:
    parts = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
             "-o", "GlobalKnownHostsFile=/dev/null",
             "-o", f"UserKnownHostsFile={remote.known_hosts or '/dev/null'}",
             "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
             "-o", "ConnectTimeout=15", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
    if remote.identity_file:
        parts += ["-i", remote.identity_file]
    return shlex.join(parts)


def _auth_header(remote: GateRemote, env: Mapping[str, str]) -> str:
    token = env.get(remote.token_env or "")
    if not token:
        raise GateError(f"the gate has no token for '{remote.name}': {remote.token_env} is not set in the "
                        "sidecars' environment (it must be exported when the bottle starts)")
    user = remote.token_user or "x-access-token"
    return "Authorization: Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def gate_env(config: GateConfig, remote: GateRemote | None = None,
             base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a git command the gate runs, for ``remote``'s upstream when given.

    An https upstream's token travels as an ``http.<upstream>.extraHeader``
    set through ``GIT_CONFIG_*`` variables: never in argv (readable by every
    process in the bundle) nor in a file, and only ever sent to that upstream.
    """
    env = dict(os.environ if base is None else base)
    env["GIT_CONFIG_GLOBAL"] = gitconfig_path(config)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.pop("SSH_AUTH_SOCK", None)
    # TLS to upstreams is always verified, against the operator's CA when one is given.
    env.pop("GIT_SSL_NO_VERIFY", None)
    if config.ca_file:
        env["GIT_SSL_CAINFO"] = config.ca_file
    for key in [k for k in env if k.startswith("GIT_CONFIG_KEY_") or k.startswith("GIT_CONFIG_VALUE_")]:
        del env[key]
    env.pop("GIT_CONFIG_COUNT", None)
    if remote is not None:
        env["GIT_SSH_COMMAND"] = ssh_command(remote)
        if remote.token_env:
            env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"http.{remote.upstream}.extraHeader",
                        "GIT_CONFIG_VALUE_0": _auth_header(remote, env)})
    return env


def git(args: Sequence[str], *, cwd: str | None = None, env: Mapping[str, str] | None = None,
        timeout: float = REFRESH_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                              errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise GateError(f"`git {args[0]}` timed out after {int(timeout)} s") from None
    if check and proc.returncode != 0:
        raise GateError(_first_error(proc.stderr) or f"`git {args[0]}` failed (exit {proc.returncode})")
    return proc


_BOILERPLATE = ("fatal: Could not read from remote repository", "Please make sure you have the correct access",
                "and the repository exists")


def _first_error(stderr: str) -> str:
    """The line of git's stderr that says what went wrong, not git's generic advice after it."""
    if "terminal prompts disabled" in stderr:
        # git's way of saying HTTP 401: it wanted to ask for a user name and could not.
        return ("the upstream refused the gate's credentials (HTTP 401): its token is wrong or expired, "
                "or the remote has no auth in the bottle")
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    specific = [ln for ln in lines if not ln.startswith(_BOILERPLATE)]
    for line in specific:
        if line.startswith(("fatal:", "error:", "ssh:", "Host key verification failed", "Permission denied",
                            "kex_exchange", "Connection")):
            return line
    return (specific or lines or [""])[-1]


@contextmanager
def remote_lock(config: GateConfig, remote: GateRemote) -> Iterator[None]:
    """Serialise refreshes of one mirror (two agents' fetches, or a fetch during a push)."""
    lock_dir = posixpath.join(config.state_dir, "locks")
    os.makedirs(lock_dir, exist_ok=True)
    with open(posixpath.join(lock_dir, f"{remote.name}.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _upstream_head(remote: GateRemote, env: Mapping[str, str]) -> str | None:
    out = git(["ls-remote", "--symref", remote.upstream, "HEAD"], env=env).stdout
    for line in out.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            return line[len("ref: "):-len("\tHEAD")]
    return None


def refresh(config: GateConfig, remote: GateRemote) -> None:
    """Bring the mirror's branches, tags and HEAD to the upstream's; raise :class:`GateError` if it cannot.

    For a remote whose pushes go elsewhere (a local remote's outbox), the
    outbox's branches are laid over the upstream's, so the agent sees what it
    pushed.
    """
    mirror = config.mirror_path(remote)
    env = gate_env(config, remote)
    with remote_lock(config, remote):
        head = _upstream_head(remote, env)
        git(["fetch", "--quiet", "--prune", "--no-auto-gc", remote.upstream,
             "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], cwd=mirror, env=env)
        if remote.push_url and remote.push_url != remote.upstream:
            git(["fetch", "--quiet", "--no-auto-gc", remote.push_url, "+refs/heads/*:refs/heads/*"],
                cwd=mirror, env=env)
        if head:
            git(["symbolic-ref", "HEAD", head], cwd=mirror, env=env)


def push_onwards(config: GateConfig, remote: GateRemote, updates: Sequence[RefUpdate],
                 cwd: str) -> str:
    """Push ``updates`` from the mirror (run inside pre-receive) to the remote's push target.

    Each ref is leased to the value the mirror had, so an upstream that moved
    since the last refresh is never overwritten. Returns git's report; raises
    :class:`GateError` with the upstream's own words when it refuses.
    """
    args = ["push", "--porcelain", "--atomic", "--no-verify"]
    refspecs = []
    for update in updates:
        args.append(f"--force-with-lease={update.ref}:{'' if update.is_create else update.old}")
        refspecs.append(f":{update.ref}" if update.is_delete else f"{update.new}:{update.ref}")
    env = gate_env(config, remote)
    # The pushed objects stay visible through GIT_OBJECT_DIRECTORY and the
    # alternates; only the ref-update ban must not reach a local push target's
    # receive-pack, which git does not scrub from a local transport's env.
    env.pop("GIT_QUARANTINE_PATH", None)
    proc = git([*args, remote.push_target, *refspecs], cwd=cwd, env=env, timeout=PUSH_TIMEOUT, check=False)
    if proc.returncode != 0:
        detail = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip() and ln.strip() != "Done"]
        raise GateError("\n".join(detail[-12:]) or f"git push exited {proc.returncode}")
    return proc.stdout
