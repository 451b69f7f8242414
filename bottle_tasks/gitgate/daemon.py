"""The git gate's supervisord program: set up the mirrors, then become ``git daemon``.

    python -m bottle_tasks.gitgate.daemon --config /etc/claude-bottle/git-gate.json --user bottle

Bind-mounted keys keep their host owner and sit on root-only mounts, so the
daemon user cannot read them in place. Private copies live in
``--key-dir/<name>/{id,known_hosts}`` (default ``/home/bottle/keys``, the
layout the sidecars boot already fills). Started as root, the daemon makes
those copies itself (0400, owned by ``--user``), hands the mirror directory
over and drops privileges; started as ``--user``, it uses the copies boot
made. Either way it then creates one bare mirror per remote with the
pre-receive hook, writes the runtime config the hooks read, and execs
``git daemon`` with the access hook.
"""
from __future__ import annotations

import argparse
import json
import os
import posixpath
import pwd
import shlex
import shutil
import subprocess
import sys
from dataclasses import replace
from typing import Callable, Sequence

from ..errors import BottleError
from ..sidecar import DAEMON_KEYS_DIR, DAEMON_USER, GIT_GATE_CONF, GIT_GATE_PORT, VENV
from .config import GateConfig, load_gate_config
from .gitops import GateError, gate_env, gate_gitconfig, git, gitconfig_path

__all__ = ["command", "daemon_args", "init_gate", "install_keys", "use_copied_keys", "runtime_config_path",
           "main"]

_PYTHON = f"{VENV}/bin/python"


def command(config_path: str = GIT_GATE_CONF, *, python: str = _PYTHON, user: str | None = DAEMON_USER,
            listen: str = "0.0.0.0", port: int = GIT_GATE_PORT) -> list[str]:
    """The supervisord ``command`` for the git gate (run it as root; it drops to ``user``)."""
    argv = [python, "-m", "bottle_tasks.gitgate.daemon", "--config", config_path,
            "--listen", listen, "--port", str(port)]
    if user:
        argv += ["--user", user]
    return argv


def runtime_config_path(config: GateConfig) -> str:
    return posixpath.join(config.state_dir, "config.json")


def daemon_args(config: GateConfig, python: str, listen: str, port: int) -> list[str]:
    hook = (f"{shlex.quote(python)} -m bottle_tasks.gitgate.hooks access "
            f"--config {shlex.quote(runtime_config_path(config))}")
    return ["git", "daemon", "--reuseaddr", f"--listen={listen}", f"--port={port}",
            f"--base-path={config.git_dir}", "--export-all", "--enable=receive-pack",
            "--informative-errors", f"--access-hook={hook}", "--init-timeout=30", "--timeout=600",
            "--max-connections=32", "--log-destination=stderr", "--verbose", config.git_dir]


def _chown_tree(path: str, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def _reclaim(path: str, mode: int) -> None:
    # Without CAP_FOWNER/DAC_OVERRIDE root may only chmod and write what root
    # owns; a restart finds these already handed to the daemon user.
    os.chown(path, 0, 0)
    os.chmod(path, mode)


def install_keys(config: GateConfig, key_dir: str, uid: int, gid: int) -> GateConfig:
    """Copy keys and known_hosts to ``key_dir/<name>/`` readable only by ``uid``; the config pointing there."""
    os.makedirs(key_dir, mode=0o700, exist_ok=True)
    _reclaim(key_dir, 0o700)
    copied: set[str] = set()
    for remote in config.remotes:
        if not (remote.identity_file or remote.known_hosts):
            continue
        target = posixpath.join(key_dir, remote.name)
        os.makedirs(target, mode=0o700, exist_ok=True)
        _reclaim(target, 0o700)
        for src, name, mode in ((remote.identity_file, "id", 0o400), (remote.known_hosts, "known_hosts", 0o444)):
            if not src:
                continue
            dst = posixpath.join(target, name)
            try:
                with open(src, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                print(f"git-gate: remote '{remote.name}': cannot read {src} ({exc.strerror}); "
                      "pushes and private fetches will fail", file=sys.stderr)
                continue
            if os.path.exists(dst):
                _reclaim(dst, 0o600)
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(dst, mode)
            os.chown(dst, uid, gid)
            copied.add(dst)
        os.chown(target, uid, gid)
    os.chown(key_dir, uid, gid)
    # Root cannot look inside the handed-over directory any more: say what was copied.
    return use_copied_keys(config, key_dir, exists=copied.__contains__)


def use_copied_keys(config: GateConfig, key_dir: str,
                    exists: Callable[[str], bool] = os.path.exists) -> GateConfig:
    """``config`` reading each remote's key files from ``key_dir/<name>/`` where copies exist there."""
    remotes = []
    for remote in config.remotes:
        identity = posixpath.join(key_dir, remote.name, "id")
        known = posixpath.join(key_dir, remote.name, "known_hosts")
        remotes.append(replace(
            remote,
            identity_file=identity if remote.identity_file and exists(identity) else remote.identity_file,
            known_hosts=known if remote.known_hosts and exists(known) else remote.known_hosts))
    return replace(config, remotes=tuple(remotes))


def _own_home(pw: pwd.struct_passwd, key_dir: str) -> None:
    """Give the user its home when the key copies live there (a fresh tmpfs home is root's)."""
    home = pw.pw_dir.rstrip("/")
    if posixpath.dirname(key_dir.rstrip("/")) == home and os.path.isdir(home) \
            and os.stat(home).st_uid != pw.pw_uid:
        _reclaim(home, 0o700)
        os.chown(home, pw.pw_uid, pw.pw_gid)


def _hand_over(config: GateConfig, uid: int, gid: int) -> None:
    os.makedirs(config.git_dir, exist_ok=True)
    if os.stat(config.git_dir).st_uid != uid:
        _chown_tree(config.git_dir, uid, gid)
    if config.log_file:
        # Best effort: without CAP_DAC_OVERRIDE root may not write a log dir the
        # host or boot owns; the hooks then log as the daemon user, or not at all.
        try:
            with open(config.log_file, "a"):
                pass
            os.chown(config.log_file, uid, gid)
        except OSError:
            pass


def _drop_privileges(pw: pwd.struct_passwd) -> None:
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
    os.environ.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name)


def _pre_receive_script(python: str, runtime: str, name: str) -> str:
    return ("#!/bin/sh\n"
            f"exec {shlex.quote(python)} -m bottle_tasks.gitgate.hooks pre-receive "
            f"--config {shlex.quote(runtime)} --remote {shlex.quote(name)}\n")


def init_gate(config: GateConfig, python: str) -> str:
    """Create the gate's state, one bare mirror per remote with its hook; return the runtime config path."""
    os.makedirs(config.state_dir, mode=0o700, exist_ok=True)
    with open(gitconfig_path(config), "w", encoding="utf-8") as fh:
        fh.write(gate_gitconfig(config))
    runtime = runtime_config_path(config)
    with open(runtime, "w", encoding="utf-8") as fh:
        json.dump(config.to_dict(), fh, indent=2, sort_keys=True)
    env = gate_env(config)
    for remote in config.remotes:
        mirror = config.mirror_path(remote)
        if not os.path.isdir(posixpath.join(mirror, "objects")):
            git(["init", "--quiet", "--bare", "--template=", mirror], env=env)
        for key, value in (("receive.fsckObjects", "true"), ("receive.advertisePushOptions", "false"),
                           ("gate.upstream", remote.upstream)):
            git(["config", key, value], cwd=mirror, env=env)
        hooks = posixpath.join(mirror, "hooks")
        os.makedirs(hooks, exist_ok=True)
        script = posixpath.join(hooks, "pre-receive")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(_pre_receive_script(python, runtime, remote.name))
        os.chmod(script, 0o755)
    return runtime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bottle_tasks.gitgate.daemon",
                                     description="set up the git gate's mirrors and run git daemon")
    parser.add_argument("--config", default=GIT_GATE_CONF)
    parser.add_argument("--user", help="drop to this user when started as root")
    parser.add_argument("--listen", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=GIT_GATE_PORT)
    parser.add_argument("--key-dir", default=DAEMON_KEYS_DIR,
                        help="private copies of the keys (made here when started as root, else by boot)")
    parser.add_argument("--python", default=sys.executable, help="interpreter the hooks run with")
    parser.add_argument("--init-only", action="store_true", help="set up the mirrors and exit")
    args = parser.parse_args(argv)
    try:
        config = load_gate_config(args.config)
        if args.user:
            try:
                pw = pwd.getpwnam(args.user)
            except KeyError:
                raise BottleError(f"user '{args.user}' does not exist in this container") from None
            if os.geteuid() == 0 and pw.pw_uid != 0:
                config = install_keys(config, args.key_dir, pw.pw_uid, pw.pw_gid)
                _own_home(pw, args.key_dir)
                _hand_over(config, pw.pw_uid, pw.pw_gid)
                _drop_privileges(pw)
            elif os.geteuid() == pw.pw_uid:
                config = use_copied_keys(config, args.key_dir)
            else:
                raise BottleError(f"started as uid {os.geteuid()}, neither root nor '{args.user}'")
        runtime = init_gate(config, args.python)
    except (BottleError, GateError, OSError) as exc:
        print(f"git-gate: cannot start: {exc}", file=sys.stderr)
        return 2
    if args.init_only:
        return 0
    argv_daemon = daemon_args(config, args.python, args.listen, args.port)
    print(f"git-gate: serving {', '.join(r.name + '.git' for r in config.remotes) or 'no remotes'} "
          f"on {args.listen}:{args.port} as {os.geteuid()}", file=sys.stderr, flush=True)
    # Exec git-daemon itself rather than the `git` wrapper, so supervisord's
    # signals reach the daemon without a middleman process. Like the wrapper,
    # put git's exec path first on PATH: git-daemon re-runs itself per client.
    env = gate_env(config)
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout.strip()
    dashed = posixpath.join(exec_path, "git-daemon")
    if exec_path and os.access(dashed, os.X_OK):
        env["PATH"] = os.pathsep.join([exec_path, env.get("PATH", os.defpath)])
        os.execve(dashed, ["git-daemon", *argv_daemon[2:]], env)
    os.execvpe(shutil.which("git") or "git", argv_daemon, env)
    return 1


if __name__ == "__main__":
    sys.exit(main())
