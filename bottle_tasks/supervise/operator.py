"""The operator's side of supervise, on the host: list, approve, deny, apply, audit.

    state/<slug>/queue/<id>.proposal.json ──doit approve──> overlay.json (+ live apply) ──> <id>.decision.json
                                           ──doit deny────────────────────────────────────> <id>.decision.json
                                                        every decision ──> state/<slug>/audit.jsonl

Approving an ``egress-block`` records the route in the slug's overlay and
applies it live through ``bottle_tasks.live.apply_routes(slug)`` (re-plan,
re-render routes.yaml in place, validate, reload the proxy, verify). A
``capability-block`` goes through ``bottle_tasks.live.apply_capabilities``
(rebuild the derived image, recreate the agent). If the apply fails the
overlay is restored byte for byte, the agent is told why, and the command
fails. The decision file is written last: the agent hears "approved" only
once the change is live.
"""
from __future__ import annotations

import datetime as dt
import getpass
import importlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .. import paths
from ..errors import BottleError
from ..fsutil import atomic_write
from ..hostnames import normalise_host
from ..overlay import add_capabilities, add_route, load_overlay, merge_route, overlay_lock, overlay_path, save_overlay
from . import audit
from .proposals import (EGRESS_TOOL, display, make_decision, parse_time, summary, utc_now, validate_capabilities,
                        validate_route)
from .queue import Queue, QueueError

__all__ = [
    "QueuedProposal", "queue_for", "queues", "pending", "locate", "approve", "deny", "history",
    "apply_live", "format_age", "Applier",
]

# An applier may return a follow-up to run once the agent has its answer: a change
# that replaces the agent's container must not take the waiting tool call with it.
Applier = Callable[[str, str], "Callable[[], None] | None"]
REPLY_GRACE_SECONDS = 2.0
"""``(slug, tool)`` -> None: make an approved change live, or raise BottleError."""


@dataclass(frozen=True)
class QueuedProposal:
    slug: str
    queue: Queue
    proposal: dict[str, Any]

    @property
    def id(self) -> str:
        return self.proposal["id"]


def queue_for(slug: str) -> Queue:
    return Queue(paths.state_dir(slug) / "queue")


def queues() -> list[tuple[str, Queue]]:
    root = paths.state_home() / "state"
    if not root.is_dir():
        return []
    out = []
    for child in sorted(root.iterdir()):
        try:
            slug = paths.validate_slug(child.name)
        except BottleError:
            continue
        if (child / "queue").is_dir():
            out.append((slug, queue_for(slug)))
    return out


def pending(errors: list[str] | None = None) -> list[QueuedProposal]:
    """Every pending proposal across all bottles on this machine, oldest first."""
    out = [QueuedProposal(slug, queue, p) for slug, queue in queues() for p in queue.pending(errors)]
    return sorted(out, key=lambda q: (q.proposal["created_at"], q.slug, q.id))


def locate(ref: str) -> QueuedProposal:
    """The pending proposal named ``ID`` or ``SLUG/ID``, or a BottleError saying what to type instead."""
    ref = (ref or "").strip()
    if not ref:
        raise BottleError("name the proposal: --id ID (see `doit proposals`)")
    slug, _, proposal_id = ref.rpartition("/")
    candidates = [(s, q) for s, q in queues() if not slug or s == slug]
    found = []
    for s, queue in candidates:
        try:
            proposal = queue.proposal(proposal_id)
        except QueueError as exc:
            raise BottleError(str(exc)) from None
        if proposal is not None:
            found.append(QueuedProposal(s, queue, proposal))
    if not found:
        raise BottleError(f"no proposal {ref!r} in any bottle's queue under {paths.state_home() / 'state'}; "
                          "`doit proposals` lists the pending ones")
    if len(found) > 1:
        names = ", ".join(f"{q.slug}/{q.id}" for q in found)
        raise BottleError(f"proposal id {proposal_id} is in several bottles ({names}); use --id SLUG/ID")
    item = found[0]
    decided = item.queue.decision(item.id)
    if decided is not None:
        raise BottleError(f"proposal {item.slug}/{item.id} was already decided: {decided['outcome']} by "
                          f"{decided['decided_by']} at {decided['decided_at']}")
    return item


def format_age(created_at: str, now: dt.datetime) -> str:
    seconds = max(0, int((now - parse_time(created_at)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _request_key(tool: str) -> str:
    return "route" if tool == EGRESS_TOOL else "capabilities"


def _edit(item: QueuedProposal) -> dict[str, Any]:
    """Open $VISUAL/$EDITOR on the request; return it edited and validated, or raise (nothing approved)."""
    key = _request_key(item.proposal["tool"])
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    fd, name = tempfile.mkstemp(prefix=f"proposal-{item.id}-", suffix=".json")
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(item.proposal[key], fh, indent=2)
            fh.write("\n")
        hint = "host, path_allowlist, methods" if key == "route" else "apt, npm, dockerfile"
        print(f"editing proposal {item.slug}/{item.id} ({hint}); save and quit to approve", flush=True)
        try:
            rc = subprocess.run([*shlex.split(editor), str(path)]).returncode
        except OSError as exc:
            raise BottleError(f"cannot run the editor {editor!r}: {exc.strerror}; set $EDITOR") from None
        if rc != 0:
            raise BottleError(f"the editor {editor!r} exited with status {rc}; nothing was approved")
        try:
            edited = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BottleError(f"the edited proposal is not JSON ({exc}); nothing was approved") from None
    finally:
        path.unlink(missing_ok=True)
    if key == "route" and isinstance(edited, dict) and isinstance(edited.get("host"), str):
        edited["host"] = normalise_host(edited["host"])
    found = validate_route(edited) if key == "route" else validate_capabilities(edited)
    if found:
        raise BottleError("the edited proposal is not valid; nothing was approved:\n"
                          + "\n".join(f"  - {p}" for p in found))
    return edited


def apply_live(slug: str, tool: str) -> "Callable[[], None] | None":
    """The lead-provided live apply for ``tool``'s kind of change; BottleError when it cannot be applied."""
    try:
        live = importlib.import_module("bottle_tasks.live")
    except ModuleNotFoundError as exc:
        if exc.name != "bottle_tasks.live":
            raise
        raise BottleError("live apply is not available in this installation (bottle_tasks.live is missing)") from None
    if tool == EGRESS_TOOL:
        live.apply_routes(slug)
        return None
    live.build_capabilities(slug)
    return lambda: live.recreate_agent(slug)


def _plan_route(slug: str, host: str) -> dict[str, Any] | None:
    """The route for ``host`` in the slug's current plan.json, auth reduced to its scheme and variable name."""
    try:
        plan = json.loads((paths.state_dir(slug) / "plan.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    for route in plan.get("routes") or []:
        if normalise_host(route.get("host", "")) == host:
            out = {k: route[k] for k in ("host", "path_allowlist", "methods") if route.get(k)}
            if route.get("auth"):
                out["auth"] = {k: route["auth"][k] for k in ("scheme", "token_ref") if route["auth"].get(k)}
            return out
    return None


def _restore(slug: str, before: bytes | None) -> None:
    path = overlay_path(slug)
    if before is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write(path, before, 0o644)


def approve(ref: str, note: str | None = None, edit: bool = False, applier: Applier | None = None,
            now: Callable[[], dt.datetime] = utc_now) -> dict[str, Any]:
    """Approve, record in the overlay, apply live, answer the agent, audit. Returns the decision."""
    item = locate(ref)
    tool, key = item.proposal["tool"], _request_key(item.proposal["tool"])
    approved = _edit(item) if edit else dict(item.proposal[key])
    applier = applier or apply_live
    by = _who()
    record: dict[str, Any] = {"event": "decision", "slug": item.slug, "id": item.id, "tool": tool, "by": by,
                              "proposal": item.proposal, "approved": approved}
    with overlay_lock(item.slug):
        if item.queue.decision(item.id) is not None:
            raise BottleError(f"proposal {item.slug}/{item.id} was decided meanwhile; see `doit proposals --all`")
        path = overlay_path(item.slug)
        before_bytes = path.read_bytes() if path.exists() else None
        overlay = load_overlay(item.slug)
        if tool == EGRESS_TOOL:
            before_route = _plan_route(item.slug, approved["host"])
            new_overlay = add_route(overlay, approved)
        else:
            new_overlay = add_capabilities(overlay, approved)
        save_overlay(item.slug, new_overlay)
        try:
            finish = applier(item.slug, tool)
        except BottleError as exc:
            _restore(item.slug, before_bytes)
            decision = make_decision(item.proposal, "apply_failed", by, now(), note=note, error=str(exc),
                                     approved=approved)
            item.queue.write_decision(decision)
            audit.append(item.slug, {**record, "at": decision["decided_at"], "outcome": "apply_failed",
                                     "error": str(exc), "note": note, "overlay_rolled_back": True})
            raise BottleError(f"approved {item.slug}/{item.id}, but applying it failed, so nothing changed "
                              f"(overlay restored; the agent was told): {exc}") from None
        except BaseException:
            _restore(item.slug, before_bytes)  # stays pending: a bug or ^C is not the operator's decision
            raise
        if tool == EGRESS_TOOL:
            # The same merge rule the plan applies to the overlay: "after" is what the proxy now enforces.
            record["routes_diff"] = {"host": approved["host"], "before": before_route,
                                     "after": merge_route(before_route, approved)}
        else:
            record["capabilities_added"] = approved
        decision = make_decision(item.proposal, "approved", by, now(), note=note, approved=approved)
        item.queue.write_decision(decision)
        audit.append(item.slug, {**record, "at": decision["decided_at"], "outcome": "approved", "note": note})
    print(f"approved {item.slug}/{item.id}: {summary({**item.proposal, key: approved})}")
    if finish is not None:
        time.sleep(REPLY_GRACE_SECONDS)  # the server polls for the decision; let the agent read it first
        try:
            finish()
        except BottleError as exc:
            audit.append(item.slug, {"event": "apply", "slug": item.slug, "id": item.id, "at": now().isoformat(),
                                     "outcome": "failed", "error": str(exc)})
            raise BottleError(f"approved {item.slug}/{item.id} and built it, but recreating the agent failed: "
                              f"{exc}") from None
    return decision


def deny(ref: str, reason: str, now: Callable[[], dt.datetime] = utc_now) -> dict[str, Any]:
    """Deny with a reason the agent will read; nothing changes in the bottle."""
    if not (reason or "").strip():
        raise BottleError("deny needs --reason TEXT: the agent reads it to decide what to do instead")
    item = locate(ref)
    by = _who()
    with overlay_lock(item.slug):
        if item.queue.decision(item.id) is not None:
            raise BottleError(f"proposal {item.slug}/{item.id} was decided meanwhile; see `doit proposals --all`")
        decision = make_decision(item.proposal, "denied", by, now(), reason=reason.strip())
        item.queue.write_decision(decision)
        audit.append(item.slug, {"event": "decision", "slug": item.slug, "id": item.id,
                                 "tool": item.proposal["tool"], "by": by, "at": decision["decided_at"],
                                 "proposal": item.proposal, "outcome": "denied", "reason": decision["reason"]})
    print(f"denied {item.slug}/{item.id}: {summary(item.proposal)}")
    return decision


def history() -> list[dict[str, Any]]:
    """Every audited decision across bottles, oldest first."""
    root = paths.state_home() / "state"
    slugs = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    out = []
    for slug in slugs:
        try:
            out.extend(audit.records(paths.validate_slug(slug)))
        except BottleError:
            continue
    return sorted(out, key=lambda r: (str(r.get("at", "")), str(r.get("id", ""))))


def _print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths)] + [row[-1]]
        print("  ".join(cells).rstrip())


def show(all: bool = False) -> None:  # noqa: A002 - doit option name
    """``doit proposals``: pending proposals (and with --all the decided history)."""
    now = utc_now()
    errors: list[str] = []
    if all:
        rows = [[str(r.get("at", "?")), str(r.get("slug", "?")), str(r.get("id", "?")), str(r.get("tool", "?")),
                 str(r.get("outcome", "?")), str(r.get("by", "?")),
                 display(_history_summary(r), 100)] for r in history()]
        if rows:
            _print_table(rows, ["DECIDED", "SLUG", "ID", "TOOL", "OUTCOME", "BY", "SUMMARY"])
        else:
            print("no decided proposals yet")
        print()
    items = pending(errors)
    if not items:
        print("no pending proposals")
    else:
        rows = [[q.slug, q.id, q.proposal["tool"], format_age(q.proposal["created_at"], now),
                 display(summary(q.proposal), 100)] for q in items]
        _print_table(rows, ["SLUG", "ID", "TOOL", "AGE", "SUMMARY"])
        for q in items:
            print(f"  {q.slug}/{q.id} justification: {display(q.proposal['justification'], 300)}")
        print("approve: doit approve --id ID [--note TEXT] [--edit]    deny: doit deny --id ID --reason TEXT")
    for error in errors:
        print(f"warning: skipped {error}", file=sys.stderr)


def _history_summary(record: Mapping[str, Any]) -> str:
    try:
        proposal = dict(record["proposal"])
        if record.get("approved"):
            proposal[_request_key(proposal["tool"])] = record["approved"]
        text = summary(proposal)
    except (KeyError, TypeError):
        return "?"
    detail = record.get("reason") or record.get("error") or record.get("note")
    return f"{text} — {detail}" if detail else text
