"""start:<agent> — build what is missing, bring the bottle up, attach to Claude Code.

    plan:A ─> build ─> ca:A ─> render:A ─> up:A ─> provision:A ─> start:A (attach)

``doit start:researcher --yes`` skips the y/N question, ``--resume`` continues
the bottle's most recent conversation (``claude --continue``); Claude Code runs in the workspace
clone when there is one (``cwd=PATH``), else in ``/workspace``. ``cwd=PATH`` and
``backend=NAME`` (doit variables) are plan options. Without a terminal,
start stops after provisioning and prints how to attach.
"""
from __future__ import annotations

import shlex
import subprocess
import sys

from ..actions import action
from ..errors import BottleError
from ..instance import Instance
from ..locks import release_slug_lock
from ..render import AGENT_PROMPT_PATH
from .common import dep, per_agent

__all__ = ["task_start", "claude_argv", "session_argv", "attach"]

DOC = "start an agent in its bottle and attach to Claude Code (--yes: no question; --resume: last conversation)"

PARAMS = [
    {"name": "yes", "short": "y", "long": "yes", "type": bool, "default": False,
     "help": "start without asking to confirm the preflight"},
    {"name": "resume", "long": "resume", "type": bool, "default": False,
     "help": "continue the most recent Claude Code conversation of this bottle (claude --continue)"},
]


def claude_argv(inst: Instance, container: str, claude_args: list[str], tty: bool) -> list[str]:
    from ..gitgate.config import session_dir

    plan = inst.plan()
    argv = ["docker", "exec", "-i"] + (["-t"] if tty else []) + ["-u", "node", "-w", session_dir(plan), container,
                                                                 "claude", "--append-system-prompt-file",
                                                                 AGENT_PROMPT_PATH]
    if plan.model:
        argv += ["--model", plan.model]
    return argv + list(plan.claude_args) + claude_args


def session_argv(slug: str, claude_args: list[str], tty: bool) -> list[str]:
    """The command that runs claude in ``slug``'s agent, whichever backend it is on."""
    inst = Instance(slug)
    if inst.plan().backend == "smolmachines":
        from ..backends.smolmachines import claude_argv as machine_argv
        return machine_argv(slug, claude_args, tty=tty)
    return claude_argv(inst, inst.running("agent").name, claude_args, tty=tty)


def attach(slug: str, resume: bool = False) -> None:
    argv = session_argv(slug, ["--continue"] if resume else [], tty=True)
    # Attached sessions last hours: stop, approve and friends must not queue behind them.
    release_slug_lock(slug)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(f"{slug} is running. Attach from a terminal with:\n  {shlex.join(argv)}")
        return
    code = subprocess.call(argv)
    if code not in (0, 130):
        raise BottleError(f"claude in {slug} exited with status {code}")


def task_start():
    yield from per_agent("start", DOC, lambda e: [dep("plan", e), dep("provision", e)],
                         lambda e: {"actions": [action(attach, e.name)], "uptodate": [False], "verbosity": 2},
                         shared={"params": PARAMS})

