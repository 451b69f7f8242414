"""What the task creators see: the discovered agents and their plans.

Computed once per process from manifests on disk. No Docker calls happen
here: task creators run on every doit command, ``doit list`` included.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from . import invocation, paths
from .errors import BottleError
from .manifests import (default_search_paths, discover_agents, find_skill, load_agent,
                        resolve_bottle)
from .plan import Plan, PlanOptions, make_plan

__all__ = ["AgentEntry", "agents", "doit_config", "plan_path", "plan_for", "workspace"]


@dataclass(frozen=True)
class AgentEntry:
    name: str
    manifest: Path
    plan: Plan | None
    error: str | None


def workspace() -> Path:
    raw = invocation.plan_options_raw()["cwd"]
    if raw:
        return Path(raw)
    from doit import get_initial_workdir
    return Path(get_initial_workdir() or os.getcwd())


def plan_path(slug: str) -> Path:
    return paths.state_dir(slug) / "plan.json"


def plan_for(name: str, search, options: PlanOptions) -> Plan:
    """The plan of agent ``name``: manifests, then what the operator approved (the overlay)."""
    from .overlay import load_overlay, merge_overlay

    agent = load_agent(name, search)
    bottle = resolve_bottle(agent.meta["bottle"], search)
    bottle = replace(bottle, meta=merge_overlay(bottle.meta, load_overlay(name)))
    skills = {s: find_skill(s, search) for s in agent.meta.get("skills") or ()}
    return make_plan(agent, bottle, skills, frozenset(os.environ), options)


@lru_cache(maxsize=1)
def agents() -> tuple[AgentEntry, ...]:
    raw = invocation.plan_options_raw()
    options = PlanOptions(backend=raw["backend"] or "docker", workspace=raw["cwd"])
    search = default_search_paths(workspace())
    entries = []
    for name, manifest in discover_agents(search).items():
        try:
            paths.validate_slug(name)
            entries.append(AgentEntry(name, manifest, plan_for(name, search, options), None))
        except BottleError as exc:
            entries.append(AgentEntry(name, manifest, None, str(exc)))
    return tuple(entries)


def doit_config() -> dict:
    db = paths.doit_db_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    from .reporter import BottleReporter
    return {
        # sqlite3 writes only the tasks a run touched, so concurrent runs on
        # different agents keep each other's results (dbm/json rewrite it all).
        "backend": "sqlite3",
        "dep_file": str(db),
        "default_tasks": ["active"],
        "reporter": BottleReporter,
        "action_string_formatting": "new",
    }
