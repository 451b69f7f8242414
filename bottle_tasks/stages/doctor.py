"""doctor — can this machine run bottles, and if not, what to do about it.

    doctor   (python, Docker daemon, compose v2, offline base tools, gVisor,
              each backend, state and cache directories, each agent's plan)

Every line is ``ok``, ``warn`` (works, with a caveat) or ``FAIL`` (something a
bottle needs), with what to do. Fails only when the default backend cannot run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..actions import action
from ..errors import BottleError

__all__ = ["Check", "task_doctor", "run_doctor", "checks", "format_checks"]

DOC = "check that this machine can run bottles (daemon, compose, backends, directories, agents)"


@dataclass(frozen=True)
class Check:
    status: str  # ok | warn | FAIL
    what: str
    detail: str = ""


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < (3, 12):
        return Check("FAIL", "python", f"{version}: claude-bottle needs >= 3.12 (scripts/setup.sh picks one)")
    return Check("ok", "python", version)


def _daemon() -> Check:
    from ..dockerhost import client, daemon_problem

    problem = daemon_problem()
    if problem:
        return Check("FAIL", "docker daemon", f"{problem}; start dockerd (scripts/setup.sh does) or set DOCKER_HOST")
    info = client().info()
    return Check("ok", "docker daemon", f"{info.get('ServerVersion', '?')}, storage {info.get('Driver', '?')}")


def _compose() -> Check:
    from ..compose import compose_command

    try:
        argv = compose_command()
    except BottleError as exc:
        return Check("FAIL", "docker compose v2", str(exc))
    out = subprocess.run([*argv, "version", "--short"], capture_output=True, text=True)
    return Check("ok", "docker compose v2", (out.stdout.strip() or "present") + f" ({' '.join(argv)})")


def _tool(name: str, why: str) -> Check:
    where = shutil.which(name)
    if where:
        return Check("ok", name, where)
    return Check("warn", name, f"not installed: {why}")


def _gvisor() -> Check:
    from ..dockerhost import client

    runtimes = client().info().get("Runtimes") or {}
    if "runsc" not in runtimes:
        return Check("warn", "gVisor", "runsc is not registered with the daemon: agents run under runc "
                                       "(still without capabilities, read-only, on an internal network)")
    return Check("ok", "gVisor", "runsc is registered; each bottle tries it once and says which runtime it got")


def _backend(name: str, default: str) -> Check:
    from ..backends.availability import problems

    missing = problems(name)
    label = f"backend {name}" + (" (default)" if name == default else "")
    if not missing:
        return Check("ok", label, "can run bottles here")
    return Check("FAIL" if name == default else "warn", label, "; ".join(missing))


def _directory(what: str, path: Path) -> Check:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        return Check("FAIL", what, f"{path} is not writable (set the variable to a directory you own)")
    free = shutil.disk_usage(probe).free >> 30
    status = "warn" if free < 5 else "ok"
    return Check(status, what, f"{path} ({free} GiB free" + (", images need several" if free < 5 else "") + ")")


def _agents() -> list[Check]:
    from ..graph import agents

    found = []
    for entry in agents():
        if entry.plan is None:
            lines = [ln.strip().removeprefix("- ") for ln in (entry.error or "unknown error").strip().splitlines()]
            if len(lines) > 1 and lines[0].startswith("cannot plan agent"):
                lines = lines[1:]  # the headline repeats the agent's name and file
            found.append(Check("warn", f"agent {entry.name}", "; ".join(lines[:3])))
        else:
            found.append(Check("ok", f"agent {entry.name}", f"plans in bottle {entry.plan.bottle}"))
    return found or [Check("warn", "agents", "none found; see examples/agents for the format")]


def checks() -> list[Check]:
    default = os.environ.get("CLAUDE_BOTTLE_BACKEND") or "docker"
    found = [_python(), _daemon()]
    daemon_ok = found[-1].status == "ok"
    found.append(_compose())
    found.append(_tool("mmdebstrap", "needed only when the pinned Debian image cannot be pulled (no registry)"))
    found.append(_tool("git", "needed for cwd= workspaces (the gate clones your repository)"))
    if daemon_ok:
        found.append(_gvisor())
    found += [_backend(name, default) for name in ("docker", "smolmachines")]
    found += [_directory("state home", paths.state_home()), _directory("cache", paths.cache_home())]
    found += _agents()
    return found


def format_checks(found: list[Check]) -> str:
    width = max(len(c.what) for c in found)
    return "\n".join(f"{c.status:<5} {c.what:<{width}}  {c.detail}".rstrip() for c in found)


def run_doctor() -> None:
    found = checks()
    print(format_checks(found))
    failed = [c.what for c in found if c.status == "FAIL"]
    if failed:
        raise BottleError(f"this machine cannot run bottles yet: fix {', '.join(failed)} (see above)")
    print("ready: `doit start:<agent>` can run here")


def task_doctor():
    """check that this machine can run bottles (daemon, compose, backends, directories, agents)"""
    return {"actions": [action(run_doctor)], "uptodate": [False], "verbosity": 2, "doc": DOC}
