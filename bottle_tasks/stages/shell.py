"""shell:<agent> — a shell, or one command, inside a running bottle's agent, as the agent's user.

    shell:A [--cmd "..."]   (starts nothing: the bottle must be running)

It sees exactly what the agent sees (same user, workspace, proxy settings and
network); it is for looking around, not a way past the sandbox.
"""
from __future__ import annotations

import shlex
import subprocess
import sys

from ..actions import action
from ..errors import BottleError
from ..instance import Instance
from .common import per_agent

__all__ = ["task_shell", "shell_argv", "shell"]

DOC = "open a shell in a running bottle's agent as its user (--cmd: run one command instead)"


def shell_argv(slug: str, command: str, tty: bool) -> list[str]:
    from ..gitgate.config import session_dir

    inst = Instance(slug)
    try:
        plan = inst.plan()
    except BottleError:
        raise BottleError(f"{slug} has never been started; start it with `doit start:{slug}`") from None
    inner = ["bash", "-lc", command] if command else ["bash", "-l"]
    if plan.backend == "smolmachines":
        from ..backends import smolvm
        from ..backends.smolmachines import machine_name
        return smolvm.machine_exec_argv(machine_name(slug), inner, user="node", interactive=True, tty=tty,
                                        workdir=session_dir(plan))
    container = inst.running("agent").name
    return ["docker", "exec", "-i", *(["-t"] if tty else []), "-u", "node", "-w", session_dir(plan), container,
            *inner]


def shell(slug: str, cmd: str = "") -> None:
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    argv = shell_argv(slug, cmd, tty=tty and not cmd)
    if not cmd and not tty:
        print(f"Open a shell in {slug} from a terminal with:\n  {shlex.join(argv)}")
        return
    code = subprocess.call(argv, stdin=None if tty and not cmd else subprocess.DEVNULL)
    if code != 0 and cmd:
        raise BottleError(f"`{cmd}` in {slug} exited with status {code}")


def task_shell():
    params = [{"name": "cmd", "long": "cmd", "type": str, "default": "",
               "help": "run this command (bash -lc) instead of an interactive shell"}]
    yield from per_agent("shell", DOC, lambda e: [],
                         lambda e: {"actions": [action(shell, e.name)], "uptodate": [False], "verbosity": 2},
                         shared={"params": params})
