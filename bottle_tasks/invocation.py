"""What the user asked doit for, as far as task creators need to know.

doit hands task creators no view of the command line, yet two things decide
how the graph is built: plan options (``cwd=PATH``, ``backend=NAME`` as doit
variables, or ``CLAUDE_BOTTLE_BACKEND``) and whether a ``start`` was asked
for interactively (the y/N question must come before anything is built).
The ``bottle`` console script records its own argv here; under plain
``doit`` we read ``sys.argv``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["set_argv", "argv", "requested_targets", "start_flags", "plan_options_raw"]

_argv: list[str] | None = None


def set_argv(args: list[str]) -> None:
    global _argv
    _argv = list(args)


def argv() -> list[str]:
    return list(_argv) if _argv is not None else list(sys.argv[1:])


def requested_targets() -> list[str]:
    """Positional task names (``start:researcher``), skipping options and ``k=v`` variables."""
    return [a for a in argv() if not a.startswith("-") and "=" not in a]


def start_flags(agent: str) -> set[str]:
    """Options given after ``start`` or ``start:<agent>`` on the command line."""
    flags: set[str] = set()
    args = argv()
    for i, arg in enumerate(args):
        if arg in ("start", f"start:{agent}"):
            for opt in args[i + 1:]:
                if not opt.startswith("-"):
                    break
                flags.add(opt.split("=", 1)[0])
    return flags


def plan_options_raw() -> dict[str, str | None]:
    """``cwd`` and ``backend`` from doit variables or the environment."""
    from doit import get_var

    cwd = get_var("cwd", None) or os.environ.get("CLAUDE_BOTTLE_CWD")
    backend = get_var("backend", None) or os.environ.get("CLAUDE_BOTTLE_BACKEND") or "docker"
    return {"cwd": str(Path(cwd).expanduser().resolve()) if cwd else None, "backend": backend}
