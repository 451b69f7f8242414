"""The compact summary shown before a bottle starts. Names only, never values."""
from __future__ import annotations

from .plan import Plan

__all__ = ["format_preflight"]


def _line(label: str, items: list[str]) -> list[str]:
    if not items:
        return [f"  {label:<8} (none)"]
    return [f"  {label:<8} {items[0]}", *[f"  {'':<8} {item}" for item in items[1:]]]


def format_preflight(plan: Plan) -> str:
    routes = []
    for r in plan.routes:
        detail = []
        if r.methods:
            detail.append(",".join(r.methods))
        if r.path_allowlist:
            detail.append(" ".join(r.path_allowlist))
        tag = f" [auth:{r.auth.scheme}]" if r.auth else ""
        routes.append(f"{r.host}{tag}" + (f"  {'  '.join(detail)}" if detail else ""))
    remotes = [f"{r.name} -> {r.upstream}" + (f" [auth:{r.token_ref}]" if r.token_ref else "")
               for r in plan.git.remotes]
    if plan.workspace:
        remotes.append(f"workspace -> {plan.workspace}")
    lines = [
        f"claude-bottle: {plan.agent} in bottle {plan.bottle} ({plan.backend})",
        *_line("agent", [plan.agent + (f" - {plan.description}" if plan.description else "")]),
        *_line("env", [e.name for e in plan.env]),
        *_line("skills", [s.name for s in plan.skills]),
        *_line("bottle", [plan.bottle + (f" (extends {' > '.join(f.rsplit('/', 1)[-1][:-3] for f in plan.bottle_files[:-1])})" if len(plan.bottle_files) > 1 else "")]),
        *_line("git", remotes),
        *_line("egress", routes),
    ]
    if plan.workspace:
        from shlex import join

        from .gitgate.host import operator_fetch_command
        lines.insert(2, f"  {'cwd':<8} {plan.workspace} (cloned into the agent through the git gate)")
        lines.append(f"  {'fetch':<8} the agent's pushes: {join(operator_fetch_command(plan))}")
    return "\n".join(lines)
