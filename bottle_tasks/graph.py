"""What the task creators see: the discovered agents and their plans.

Computed once per process from manifests on disk. No Docker calls happen
here: task creators run on every doit command, ``doit list`` included.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
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

    if options.workspace and not (Path(options.workspace) / ".git").exists():
        raise BottleError(f"cwd={options.workspace} is not a git repository: the agent's workspace is a "
                          "clone of it through the git gate, so it must be one (git init, commit, retry)")
    agent = load_agent(name, search)
    bottle = resolve_bottle(agent.meta["bottle"], search)
    bottle = replace(bottle, meta=merge_overlay(bottle.meta, load_overlay(name)))
    skills = {s: find_skill(s, search) for s in agent.meta.get("skills") or ()}
    return make_plan(agent, bottle, skills, frozenset(os.environ), options)


# Subtask names the shared images already use (build:base, build:agent, ...).
RESERVED_NAMES = frozenset({"base", "agent", "sidecars", "registry"})

# Code whose change can change a plan: part of the cache key.
_PLAN_CODE = ("plan.py", "manifests.py", "overlay.py", "hostnames.py", "graph.py")


def _fingerprint(search, options: PlanOptions) -> str:
    """Everything a plan is made from, cheaply: manifest and overlay bytes, skill trees, options, code."""
    h = hashlib.sha256(json.dumps([options.backend, options.workspace]).encode())
    here = Path(__file__).resolve().parent
    for name in _PLAN_CODE:
        h.update((here / name).read_bytes())
    for schema in sorted(paths.schemas_dir().glob("*.json")):
        h.update(schema.read_bytes())
    for d in (*search.agents, *search.bottles):
        for f in sorted(d.glob("*.md")) if d.is_dir() else ():
            h.update(str(f).encode() + b"\0" + f.read_bytes())
    for d in search.skills:
        for f in sorted(d.rglob("*")) if d.is_dir() else ():
            st = f.stat()
            h.update(f"{f}\0{st.st_mtime_ns}\0{st.st_size}".encode())
    for f in sorted((paths.state_home() / "state").glob("*/overlay.json")):
        h.update(str(f).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _cache_path() -> Path:
    return paths.state_home() / "plan-cache.json"


def _env_names(plan: Plan) -> set[str]:
    return set(plan.token_refs) | {v.from_host for v in plan.env if v.from_host}


def _cached(fingerprint: str) -> tuple[AgentEntry, ...] | None:
    try:
        data = json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return None
    if data.get("fingerprint") != fingerprint or not set(data.get("env", [])) <= set(os.environ):
        return None
    from .plan import plan_from_json
    return tuple(AgentEntry(name, Path(e["manifest"]), plan_from_json(e["plan"]), None)
                 for name, e in data["agents"].items())


def _store(fingerprint: str, entries: tuple[AgentEntry, ...]) -> None:
    """Only an all-good set is cached: errors must be re-derived (and re-shown) every time."""
    if any(e.plan is None for e in entries):
        return
    from .fsutil import atomic_write
    data = {"fingerprint": fingerprint,
            "env": sorted(set().union(*(_env_names(e.plan) for e in entries))),
            "agents": {e.name: {"manifest": str(e.manifest), "plan": e.plan.to_json()} for e in entries}}
    try:
        atomic_write(_cache_path(), json.dumps(data), 0o600)
    except OSError:
        pass


@lru_cache(maxsize=1)
def agents() -> tuple[AgentEntry, ...]:
    """Every discovered agent with its plan (or why it has none).

    Task creators run on every doit command, so resolving manifests (YAML,
    JSON Schema) is skipped when nothing they are made from has changed.
    """
    raw = invocation.plan_options_raw()
    options = PlanOptions(backend=raw["backend"] or "docker", workspace=raw["cwd"])
    search = default_search_paths(workspace())
    fingerprint = _fingerprint(search, options)
    cached = _cached(fingerprint)
    if cached is not None:
        return cached
    entries = []
    warned = False
    for name, manifest in discover_agents(search).items():
        if name in RESERVED_NAMES:
            warned = True
            # Its tasks would collide with the shared image's (build:sidecars, save:sidecars...).
            print(f"warning: {manifest} is ignored: an agent cannot be called '{name}', the name of a "
                  "shared image; rename the file", file=sys.stderr)
            continue
        try:
            paths.validate_slug(name)
            entries.append(AgentEntry(name, manifest, plan_for(name, search, options), None))
        except BottleError as exc:
            entries.append(AgentEntry(name, manifest, None, str(exc)))
    if not warned:
        _store(fingerprint, tuple(entries))
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
