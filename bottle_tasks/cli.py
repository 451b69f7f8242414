"""``bottle``: the same task graph as ``doit`` in this repository, from any directory.

    bottle start researcher --yes --cwd ~/src/project
    bottle list --all

``bottle <stage> <agent>`` is ``doit <stage>:<agent>``; ``--cwd PATH`` and
``--backend NAME`` become the doit variables the plan reads.
"""
from __future__ import annotations

import sys

from . import invocation

__all__ = ["main", "translate"]

_DOIT_COMMANDS = {"list", "info", "help", "run", "forget", "clean", "ignore", "dumpdb", "strace",
                  "auto", "tabcompletion", "reset-dep"}
_PLAN_OPTS = {"--cwd": "cwd", "--backend": "backend"}


def translate(args: list[str]) -> list[str]:
    out: list[str] = []
    variables: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in _PLAN_OPTS:
            if not eq:
                if i + 1 >= len(args):
                    raise SystemExit(f"bottle: {name} needs a value")
                value = args[i + 1]
                i += 1
            variables.append(f"{_PLAN_OPTS[name]}={value}")
        elif (not out and arg not in _DOIT_COMMANDS and not arg.startswith("-") and ":" not in arg
              and i + 1 < len(args) and not args[i + 1].startswith("-") and "=" not in args[i + 1]):
            out.append(f"{arg}:{args[i + 1]}")
            i += 1
        else:
            out.append(arg)
        i += 1
    return out + variables


def main(argv: list[str] | None = None) -> int:
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    args = translate(sys.argv[1:] if argv is None else argv)
    invocation.set_argv(args)
    from . import tasks

    return DoitMain(ModuleTaskLoader(tasks), config_filenames=()).run(args)


if __name__ == "__main__":
    sys.exit(main())
