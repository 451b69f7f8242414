"""Changes applied to a running bottle without restarting it (or only its agent).

Called by the operator side of supervise after an approval has been written
to the slug's overlay. Every function leaves the bottle as it was when it
fails, and raises :class:`BottleError` saying why.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from . import paths
from .errors import BottleError
from .fsutil import write_if_changed, write_in_place
from .instance import Instance
from .manifests import default_search_paths
from .plan import PlanOptions

__all__ = ["replan", "apply_routes", "build_capabilities", "recreate_agent", "apply_capabilities"]


def replan(slug: str):
    """The plan ``slug`` would get now, with the options it was started with."""
    from .graph import plan_for

    old = Instance(slug).plan()
    search = default_search_paths(Path(old.workspace) if old.workspace else None)
    # The agent may have come from a workspace that is not this process's directory.
    search = replace(search, agents=(Path(old.agent_file).parent, *search.agents))
    return plan_for(slug, search, PlanOptions(backend=old.backend, workspace=old.workspace))


def apply_routes(slug: str) -> None:
    """Re-plan and re-render, then have the running proxy load the new routes.yaml."""
    from .stages.render import render_instance
    from .stages.up import UP_RECORD, reload_routes

    inst = Instance(slug)
    inst.running("sidecars")
    new_plan = replan(slug)
    saved = {p: p.read_bytes() for p in (inst.plan_file, inst.rendered / "routes.yaml") if p.exists()}
    try:
        write_if_changed(inst.plan_file, new_plan.to_json(), 0o600)
        digests = render_instance(slug)
        reload_routes(slug)
    except BaseException:
        for path, data in saved.items():
            write_in_place(path, data) if path.name == "routes.yaml" else write_if_changed(path, data, 0o600)
        try:
            reload_routes(slug)
        except BottleError:
            pass
        raise
    record = inst.read_record(UP_RECORD)
    if record:
        inst.write_record(UP_RECORD, {**record, "routes": digests["routes"]})


def _doit(slug: str, *targets: str) -> None:
    """Run stages of ``slug`` through the graph, with the options it was started with."""
    inst = Instance(slug)
    env = dict(os.environ)
    old = inst.plan()
    if old.workspace:
        env["CLAUDE_BOTTLE_CWD"] = old.workspace
    env["CLAUDE_BOTTLE_BACKEND"] = old.backend
    argv = [sys.executable, "-m", "doit", "--file", str(paths.repo_root() / "dodo.py"), *targets]
    result = subprocess.run(argv, cwd=paths.repo_root(), env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BottleError(f"`doit {' '.join(targets)}` failed for {slug}:\n"
                          + (result.stdout + result.stderr).strip()[-1500:])


def build_capabilities(slug: str) -> None:
    """Build the derived image with the overlay's capabilities; the running agent is untouched."""
    inst = Instance(slug)
    inst.running("agent")
    write_if_changed(inst.plan_file, replan(slug).to_json(), 0o600)
    _doit(slug, f"build:{slug}", f"render:{slug}")


def recreate_agent(slug: str) -> None:
    """Bring the bottle up on the new image (only the agent is recreated) and provision it."""
    _doit(slug, f"up:{slug}", f"provision:{slug}")


def apply_capabilities(slug: str) -> None:
    """Both steps at once, for callers with nobody waiting on the old container."""
    build_capabilities(slug)
    recreate_agent(slug)
