"""stop:<agent> — save the compose logs, then take the bottle down, keeping its state.

    stop:A ──> state/<slug>/compose.log ; docker compose down (named volumes kept)

The next ``start`` resumes with the same home volume (Claude's sessions),
workspace volume and state directory.
"""
from __future__ import annotations

from ..actions import action
from ..compose import run_compose
from ..fsutil import atomic_write
from ..graph import agents
from ..instance import Instance
from ..locks import hold_slug_lock
from .common import group

__all__ = ["task_stop", "stop_bottle"]

DOC = "stop a running bottle (logs saved to compose.log), keeping its state for the next start"


def stop_bottle(slug: str) -> None:
    hold_slug_lock(slug)
    inst = Instance(slug)
    if inst.plan_file.exists() and inst.plan().backend == "smolmachines":
        from ..backends import smolmachines
        stopped = smolmachines.stop(slug)
        inst.drop_record("provision.json")
        print(f"stopped {slug} (smolvm machine kept for the next start)" if stopped else f"{slug} is not running")
        return
    if not inst.compose_file.exists() or not inst.containers():
        print(f"{slug} is not running")
        return
    logs = run_compose(inst.project, inst.compose_file, "logs", "--no-color", "--timestamps",
                       capture=True, check=False)
    atomic_write(inst.dir / "compose.log", logs.stdout + logs.stderr, 0o600)
    run_compose(inst.project, inst.compose_file, "down", "--remove-orphans", "--timeout", "5")
    inst.drop_record("up.json")
    inst.drop_record("provision.json")
    print(f"stopped {slug}; logs in {inst.dir / 'compose.log'}")


def task_stop():
    yield group("stop", DOC)
    for entry in agents():
        yield {"name": entry.name, "doc": f"{DOC} ({entry.name})", "actions": [action(stop_bottle, entry.name)],
               "uptodate": [False], "verbosity": 2}
