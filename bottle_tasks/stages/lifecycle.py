"""active and cleanup — the bottles of this home, across every agent.

    active   : running bottles of both backends (backend, slug, agent, uptime, services)
    cleanup  : one plan of everything orphaned — stopped projects, stray
               labelled containers/networks/volumes, state dirs with no live
               project and no .preserve marker, stopped smolvm machines, store
               files no stamp needs (and, with --images, superseded images) —
               one y/N, then remove; a slug live on either backend is never touched
"""
from __future__ import annotations

import sys

from .. import inventory
from ..actions import action
from ..errors import BottleError

__all__ = ["task_active", "task_cleanup", "show_active", "run_cleanup"]


def show_active(all: bool = False) -> None:  # noqa: A002 - doit option name
    shown = [b for b in inventory.bottles() if all or b.state == "running"]
    if not shown:
        print("no running bottles" if not all else "no bottles")
        return
    print(f"{'BACKEND':<13} {'SLUG':<20} {'AGENT':<16} {'STATE':<8} {'UPTIME':<8} SERVICES")
    for b in shown:
        services = ", ".join(f"{name}:{state}" for name, state in sorted(b.services.items()))
        print(f"{b.backend:<13} {b.slug:<20} {b.slug:<16} {b.state:<8} {b.uptime():<8} {services}")


def run_cleanup(yes: bool = False, images: bool = False) -> None:
    doomed = inventory.cleanup_plan(images=images)
    for note in doomed.notes:
        print(note)
    if doomed.is_empty():
        print("nothing to clean up")
        return
    print("cleanup will remove:\n" + doomed.describe())
    if not yes:
        if not sys.stdin.isatty():
            raise BottleError("cleanup needs confirmation: run it in a terminal or pass --yes")
        if input("remove all of the above? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return
    inventory.remove(doomed)


def task_active():
    """list running bottles: backend, slug, agent, uptime, services (--all: stopped too)"""
    return {"actions": [action(show_active)], "uptodate": [False], "verbosity": 2,
            "params": [{"name": "all", "long": "all", "type": bool, "default": False,
                        "help": "also list stopped and partial bottles"}]}


def task_cleanup():
    """remove orphaned bottles, containers, networks, volumes, state dirs, stale store files (y/N; --yes, --images)"""
    return {
        "actions": [action(run_cleanup)],
        "params": [{"name": "yes", "short": "y", "long": "yes", "type": bool, "default": False,
                    "help": "do not ask for confirmation"},
                   {"name": "images", "long": "images", "type": bool, "default": False,
                    "help": "also remove images this cache built that no stamp or container uses"}],
        "uptodate": [False],
        "verbosity": 2,
    }
