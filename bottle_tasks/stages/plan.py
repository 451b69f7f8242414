"""plan:<agent> — resolve manifests into plan.json and show the preflight.

    manifests (agent, bottle chain, skills) + host env names + options
        └─> plan:A  ──writes──> state/<slug>/plan.json ──file_dep──> every later stage of A

Asked for directly (``doit plan:A``) or by a start, it always runs: its
output is the preflight. Otherwise it is up to date while plan.json holds the
current plan. It rewrites plan.json only when the plan changed, so later
stages stay up to date unless something they depend on really moved.
"""
from __future__ import annotations

import sys

from .. import invocation
from ..actions import action
from ..errors import BottleError
from ..fsutil import write_if_changed
from ..graph import agents, plan_path
from ..locks import hold_slug_lock
from .common import broken, group

__all__ = ["task_plan", "write_plan"]

DOC = "resolve an agent's manifests into plan.json and print the preflight"


def _confirm(agent: str) -> None:
    try:
        answer = input(f"start {agent} with this plan? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise BottleError(f"start of {agent} cancelled; nothing was built or started")


def _runtime_line(slug: str) -> str | None:
    """Which OCI runtime the agent will get, and why; None when the daemon cannot say."""
    from ..dockerhost import daemon_problem
    from ..imagebuild import agent_image_ref
    from ..runtime import choose_runtime

    if daemon_problem():
        return None
    try:
        image = agent_image_ref(slug)
    except BottleError:
        image = None
    choice = choose_runtime(image)
    warn = "" if choice.runtime == "runsc" else "warning: "
    return f"  {'runtime':<8} {choice.runtime} ({warn}{choice.reason})"


def write_plan(slug: str, plan_json: str, preflight: str, confirm: bool, backend: str = "docker",
               launching: bool = False) -> None:
    hold_slug_lock(slug)
    if launching:
        # Before anything is built: an unusable backend is one sentence, not a failed stage later.
        from ..backends.availability import require
        require(backend, slug)
    write_if_changed(plan_path(slug), plan_json, 0o600)
    if preflight:
        print(preflight, flush=True)
    if backend == "docker" and preflight:
        line = _runtime_line(slug)
        if line:
            print(line, flush=True)
    if confirm and sys.stdin.isatty():
        _confirm(slug)


def _wants_confirmation(agent: str) -> bool:
    targets = invocation.requested_targets()
    if "start" not in targets and f"start:{agent}" not in targets:
        return False
    return "--yes" not in invocation.start_flags(agent) and "-y" not in invocation.start_flags(agent)


LAUNCH_STAGES = ("start", "up", "provision", "prompt")


def _shows_preflight(agent: str) -> bool:
    """The preflight is for `doit plan:A` and for starts; other runs just need plan.json current."""
    targets = invocation.requested_targets()
    return any(t in ("plan", f"plan:{agent}") for t in targets) or _launching(agent)


def plan_is_written(slug: str, plan_json: str) -> bool:
    """uptodate: plan.json already holds exactly this plan."""
    try:
        return plan_path(slug).read_text() == plan_json
    except OSError:
        return False


def _launching(agent: str) -> bool:
    """Whether this run brings the agent up (then its backend must be usable here)."""
    targets = invocation.requested_targets()
    return any(t in LAUNCH_STAGES or t in {f"{s}:{agent}" for s in LAUNCH_STAGES} for t in targets)


def task_plan():
    from ..preflight import format_preflight

    yield group("plan", DOC)
    for entry in agents():
        if entry.plan is None:
            yield broken(entry, DOC)
            continue
        plan = entry.plan
        plan_json = plan.to_json()
        shown = _shows_preflight(entry.name)
        yield {
            "name": entry.name,
            "doc": DOC,
            "actions": [action(write_plan, plan.slug, plan_json, format_preflight(plan) if shown else "",
                               _wants_confirmation(entry.name), plan.backend, _launching(entry.name))],
            "targets": [str(plan_path(plan.slug))],
            "uptodate": [False] if shown else [(plan_is_written, [plan.slug, plan_json])],
            "verbosity": 2,
        }
