"""active and cleanup — the bottles on this machine, across every agent.

    active   : list running and stopped bottles (compose projects we labelled)
    cleanup  : remove orphans — containers, networks and volumes of bottles
               whose state directory is gone, or that lost their agent
"""
from __future__ import annotations

from ..actions import action
from ..errors import BottleError
from .. import inventory

__all__ = ["task_active", "task_cleanup"]


def show_active() -> None:
    bottles = inventory.bottles()
    if not bottles:
        print("no bottles on this machine")
        return
    print(f"{'SLUG':<20} {'BACKEND':<13} {'STATE':<9} SERVICES")
    for b in bottles:
        services = ", ".join(f"{name}:{state}" for name, state in sorted(b.services.items()))
        print(f"{b.slug:<20} {b.backend:<13} {b.state:<9} {services}")


def run_cleanup(yes: bool = False, all: bool = False) -> None:  # noqa: A002 - doit option name
    doomed = inventory.cleanup_plan(include_stopped=all)
    if doomed.is_empty():
        print("nothing to clean up")
        return
    print(doomed.describe())
    if not yes:
        import sys
        if not sys.stdin.isatty():
            raise BottleError("cleanup needs confirmation: run it in a terminal or pass --yes")
        if input("remove all of the above? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return
    inventory.remove(doomed)


def task_active():
    """list the bottles on this machine, running or stopped"""
    return {"actions": [action(show_active)], "uptodate": [False], "verbosity": 2}


def task_cleanup():
    """remove orphaned bottle containers, networks and volumes (--all: stopped bottles too)"""
    return {
        "actions": [action(run_cleanup)],
        "params": [
            {"name": "yes", "short": "y", "long": "yes", "type": bool, "default": False,
             "help": "do not ask for confirmation"},
            {"name": "all", "long": "all", "type": bool, "default": False,
             "help": "also remove stopped bottles and their state directories"},
        ],
        "uptodate": [False],
        "verbosity": 2,
    }
