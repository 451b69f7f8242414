"""git daemon's access hook and the mirrors' pre-receive hook.

    python -m bottle_tasks.gitgate.hooks access --config C <service> <path> <host> <canon> <ip> <port>
        refresh the mirror from upstream; exit 1 (git daemon refuses the
        request, sending our one stdout line to the client) when it cannot.
    python -m bottle_tasks.gitgate.hooks pre-receive --config C --remote NAME   (stdin: ref updates)
        branch policy, secret scan, then push the accepted refs onwards; any
        refusal rejects the whole push, with the reason on stderr (the agent
        sees it as ``remote:`` lines).

Every decision is appended to the config's JSONL log.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import posixpath
import subprocess
import sys
import time
from typing import Sequence

from ..errors import BottleError
from .config import GateConfig, GateRemote, load_gate_config
from .gitops import GateError, gate_env, git, push_onwards, redact_url, refresh, remote_lock
from .policy import RefUpdate, check_update, parse_updates, protected_patterns

__all__ = ["main", "access", "pre_receive"]

SERVICES = ("upload-pack", "receive-pack")
_MAX_HITS_SHOWN = 20


def log_event(config: GateConfig | None, **fields: object) -> None:
    if config is None or not config.log_file:
        return
    record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "component": "git-gate", **fields}
    try:
        with open(config.log_file, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
    except OSError:
        pass


def _remote_for_path(config: GateConfig, path: str) -> GateRemote | None:
    parent, base = posixpath.split(posixpath.normpath(path))
    if posixpath.normpath(parent) != posixpath.normpath(config.git_dir):
        return None
    return config.remote(base.removesuffix(".git"))


def access(config: GateConfig, service: str, path: str, client_ip: str = "") -> tuple[bool, str]:
    """Whether git daemon may serve ``service`` on ``path``, and the line the client sees if not."""
    remote = _remote_for_path(config, path)
    if remote is None:
        names = ", ".join(f"{r.name}.git" for r in config.remotes) or "none"
        log_event(config, event="access", service=service, path=path, client=client_ip, allowed=False,
                  reason="unknown repository")
        return False, f"git-gate: no such repository; this bottle serves: {names}"
    if service not in SERVICES:
        log_event(config, event="access", service=service, remote=remote.name, client=client_ip,
                  allowed=False, reason="service disabled")
        return False, f"git-gate: {service} is not offered; fetch and push only"
    started = time.monotonic()
    try:
        refresh(config, remote)
    except GateError as exc:
        reason = " ".join(str(exc).split())
        log_event(config, event="refresh", service=service, remote=remote.name, client=client_ip,
                  allowed=False, reason=reason)
        return False, (f"git-gate: cannot refresh '{remote.name}' from {redact_url(remote.upstream)} "
                       f"({reason}); refusing to serve possibly stale data - retry later or tell the operator")
    log_event(config, event="refresh", service=service, remote=remote.name, client=client_ip, allowed=True,
              seconds=round(time.monotonic() - started, 3))
    return True, ""


def _is_ancestor(old: str, new: str, env: dict[str, str]) -> bool:
    proc = git(["merge-base", "--is-ancestor", old, new], env=env, check=False)
    if proc.returncode not in (0, 1):
        raise GateError(f"cannot compare {old[:12]} and {new[:12]}: {proc.stderr.strip()}")
    return proc.returncode == 0


def _known_secrets(config: GateConfig):
    from ..egress.dlp import KnownSecret
    return [KnownSecret(os.environ[name], "bottle token", name=name)
            for name in config.dlp_extra_secrets_env if os.environ.get(name)]


def _secret_hits(config: GateConfig, updates: Sequence[RefUpdate], env: dict[str, str]):
    from .scan import GIT_LOG_ARGS, added_lines, scan_added_lines, scan_message
    news = sorted({u.new for u in updates if not u.is_delete})
    if not news:
        return []
    extra = _known_secrets(config)
    proc = subprocess.Popen(["git", *GIT_LOG_ARGS, *news, "--not", "--all"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    stream = io.TextIOWrapper(proc.stdout, encoding="utf-8", errors="replace", newline="\n")
    hits = scan_added_lines(added_lines(stream), extra)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.wait() != 0:
        raise GateError(f"cannot read the pushed commits to scan them: {stderr.strip()}")
    log = git(["log", "-z", "--format=%H%n%B", *news, "--not", "--all"], env=env)
    for entry in log.stdout.split("\0"):
        commit, _, message = entry.strip("\n").partition("\n")
        if commit:
            hits += scan_message(commit, message, extra)
    return hits


def _say(lines: Sequence[str]) -> None:
    sys.stderr.write("".join(f"{line}\n" for line in lines))
    sys.stderr.flush()


def pre_receive(config: GateConfig, remote: GateRemote, updates: Sequence[RefUpdate]) -> bool:
    """Apply the gate's policy to one push; True when it went onwards and the mirror may accept it."""
    env = gate_env(config)
    refs = [u.ref for u in updates]
    if not updates:
        return True
    try:
        head = git(["symbolic-ref", "--quiet", "HEAD"], env=env, check=False).stdout.strip() or None
        protected = protected_patterns(remote.protected_branches, head)
        refusals = []
        for u in updates:
            ff = None
            if not u.is_create and not u.is_delete and u.ref.startswith("refs/heads/"):
                ff = _is_ancestor(u.old, u.new, env)
            refusal = check_update(u, protected=protected, push_prefix=remote.push_prefix, fast_forward=ff)
            if refusal:
                refusals.append(refusal)
        if refusals:
            log_event(config, event="push", remote=remote.name, refs=refs, accepted=False,
                      reason="policy", detail=[str(r) for r in refusals])
            _say(["git-gate: push refused by the bottle's branch policy; nothing was pushed:",
                  *(f"  {r}" for r in refusals)])
            return False
        hits = _secret_hits(config, updates, env)
        if hits:
            log_event(config, event="push", remote=remote.name, refs=refs, accepted=False, reason="secret",
                      detail=[f"{h.where} (commit {h.commit[:12]}): {h.kind}" for h in hits])
            from .scan import format_hit
            shown = [f"  {format_hit(h)}" for h in hits[:_MAX_HITS_SHOWN]]
            more = [f"  ... and {len(hits) - _MAX_HITS_SHOWN} more"] if len(hits) > _MAX_HITS_SHOWN else []
            _say(["git-gate: push refused: the pushed commits add what looks like a secret; nothing was pushed:",
                  *shown, *more,
                  "Remove it from every pushed commit (git commit --amend, or git rebase -i for older "
                  "commits) and push again. Credentials belong in the bottle's egress routes, not in code."])
            return False
        # Hold the mirror's lock so a concurrent refresh cannot move these refs
        # between the upstream accepting them and receive-pack updating ours.
        with remote_lock(config, remote):
            push_onwards(config, remote, updates, cwd=os.getcwd())
    except GateError as exc:
        log_event(config, event="push", remote=remote.name, refs=refs, accepted=False, reason="upstream",
                  detail=str(exc))
        _say([f"git-gate: push refused: {redact_url(remote.push_target)} did not accept it, "
              "so the gate keeps nothing either:",
              *(f"  {line}" for line in str(exc).splitlines()),
              "If the upstream moved on, fetch, rebase and push again."])
        return False
    log_event(config, event="push", remote=remote.name, refs=refs, accepted=True)
    where = "the outbox the operator fetches from" if remote.push_url else redact_url(remote.upstream)
    _say([f"git-gate: pushed {', '.join(u.short for u in updates)} to {where}"])
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bottle_tasks.gitgate.hooks")
    sub = parser.add_subparsers(dest="hook", required=True)
    acc = sub.add_parser("access")
    acc.add_argument("--config", required=True)
    acc.add_argument("service")
    acc.add_argument("path")
    acc.add_argument("rest", nargs="*")
    pre = sub.add_parser("pre-receive")
    pre.add_argument("--config", required=True)
    pre.add_argument("--remote", required=True)
    args = parser.parse_args(argv)
    try:
        config = load_gate_config(args.config)
    except BottleError as exc:
        first = " ".join(str(exc).split())
        if args.hook == "access":
            print(f"git-gate: misconfigured ({first[:300]})")
        else:
            _say([f"git-gate: misconfigured, refusing the push: {first}"])
        return 1
    if args.hook == "access":
        ip = args.rest[2] if len(args.rest) >= 3 else os.environ.get("REMOTE_ADDR", "")
        ok, line = access(config, args.service, args.path, ip)
        if not ok:
            print(line)
        return 0 if ok else 1
    remote = config.remote(args.remote)
    if remote is None:
        _say([f"git-gate: remote '{args.remote}' is not configured; refusing the push"])
        return 1
    return 0 if pre_receive(config, remote, parse_updates(sys.stdin)) else 1


if __name__ == "__main__":
    sys.exit(main())
