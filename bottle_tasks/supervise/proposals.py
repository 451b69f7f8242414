"""Proposals and decisions: tool arguments in, queue records and agent replies out.

Pure: no I/O. The MCP server turns a tool call into a proposal with
:func:`egress_proposal` / :func:`capability_proposal` (which raise
:class:`ProposalError` with a message the model can act on), the operator
side turns a proposal into a decision, and :func:`reply` turns the decision
into what the blocked tool call returns.

A proposal never carries credentials: auth on a route exists only in the
bottle manifest, which the operator writes.
"""
from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
from typing import Any, Mapping

from ..hostnames import hostname_problem, normalise_host
from .formats import DECISION, PROPOSAL, problems

__all__ = [
    "EGRESS_TOOL", "CAPABILITY_TOOL", "LIST_TOOL", "TOOLS", "METHODS", "ProposalError",
    "egress_proposal", "capability_proposal", "validate_route", "validate_capabilities",
    "validate_proposal", "validate_decision", "make_decision", "request_key", "summary",
    "reply", "pending_reply", "utc_now", "parse_time", "display",
]

EGRESS_TOOL = "egress-block"
CAPABILITY_TOOL = "capability-block"
LIST_TOOL = "list-egress-routes"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

# Argument names that smell of credentials get their own explanation rather
# than "unknown key": the model should learn why, not just retry with a synonym.
_CREDENTIAL_RE = re.compile(r"auth|token|credential|secret|passw|bearer|cookie|header|api[_-]?key|^key$|cert",
                            re.IGNORECASE)

_EGRESS_ARGS = ("host", "path_prefixes", "methods", "justification")
_CAPABILITY_ARGS = ("apt", "npm", "dockerfile", "justification")
_EGRESS_EXAMPLE = ('{"host": "api.example.com", "path_prefixes": ["/v1/"], "methods": ["GET"], '
                   '"justification": "the task needs the example API\'s v1 listing"}')
_CAPABILITY_EXAMPLE = '{"apt": ["jq"], "justification": "the tests parse JSON with jq"}'

TOOLS: dict[str, dict[str, Any]] = {
    EGRESS_TOOL: {
        "description": (
            "Ask the operator to allow ONE egress route: an exact host, optionally limited to path "
            "prefixes and HTTP methods. Call it when the egress proxy blocked a request your task "
            "needs. The call waits for the operator's decision; once approved the route is live and "
            "you can retry. Do not send credentials: auth is configured by the operator only."
        ),
        "input_schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["host", "justification"],
            "properties": {
                "host": {"type": "string",
                         "description": "exact hostname such as api.example.com: no scheme, port, path, "
                                        "wildcard or IP address"},
                "path_prefixes": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                  "description": "path prefixes such as /v1/ (a prefix without a trailing "
                                                 "'/' also matches below it); omit to allow any path"},
                "methods": {"type": "array", "items": {"enum": list(METHODS)}, "minItems": 1,
                            "description": "HTTP methods; omit to allow any"},
                "justification": {"type": "string",
                                  "description": "one or two sentences: what the task needs and why"},
            },
        },
    },
    CAPABILITY_TOOL: {
        "description": (
            "Ask the operator to add software to this bottle's agent image: Debian packages, npm "
            "packages or Dockerfile lines. The call waits for the operator; an approved change "
            "rebuilds the image and recreates the agent container (the workspace and Claude state "
            "are kept)."
        ),
        "input_schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["justification"],
            "properties": {
                "apt": {"type": "array", "items": {"type": "string"},
                        "description": "Debian package names, optionally name=version"},
                "npm": {"type": "array", "items": {"type": "string"},
                        "description": "npm package names installed globally, optionally name@version"},
                "dockerfile": {"type": "array", "items": {"type": "string"},
                               "description": "single Dockerfile lines (RUN, ENV ...), no FROM"},
                "justification": {"type": "string",
                                  "description": "one or two sentences: what the task needs and why"},
            },
        },
    },
    LIST_TOOL: {
        "description": ("List the egress routes the proxy enforces right now: hosts, path prefixes, "
                        "methods, and whether the proxy injects credentials (never the credentials)."),
        "input_schema": {"type": "object", "additionalProperties": False, "properties": {}},
    },
}


class ProposalError(ValueError):
    """Invalid tool arguments; the message is written for the model to act on."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _unknown_args(args: Mapping[str, Any], allowed: tuple[str, ...], tool: str) -> list[str]:
    out = []
    for key in args:
        if key in allowed:
            continue
        if _CREDENTIAL_RE.search(str(key)):
            out.append(
                f"argument '{key}' is refused: a proposal cannot carry auth, tokens, headers or any other "
                "credential. Credentials are set by the operator in the bottle manifest and injected by "
                f"the proxy. Call {tool} again without '{key}'; if the host needs credentials, say so in "
                "the justification"
            )
        else:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            out.append(f"unknown argument '{key}'{hint}; valid arguments: {', '.join(allowed)}")
    return out


def _justification(args: Mapping[str, Any], out: list[str]) -> str:
    text = args.get("justification")
    if not isinstance(text, str) or not text.strip():
        out.append("justification: required, one or two sentences saying what the task needs and why")
        return ""
    text = text.strip()
    if len(text) > 2000:
        out.append(f"justification: {len(text)} characters is too long; keep it under 2000")
    return text


def _string_list(args: Mapping[str, Any], key: str, out: list[str]) -> list[str] | None:
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        out.append(f"{key}: expected a list of strings, got {value!r}")
        return None
    return value


def _host_hint(raw: str) -> str:
    """For a URL given as host: the host and path to use instead."""
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(raw if "://" in raw else f"//{raw}")
        name = parts.hostname
    except ValueError:
        return ""
    if not name or name == raw.lower() or "*" in name:
        return ""
    hint = f"; use \"host\": \"{name}\""
    if parts.path and parts.path != "/":
        hint += f" and \"path_prefixes\": [\"{parts.path}\"]"
    return hint


def _fail(tool: str, found: list[str], example: str) -> ProposalError:
    lines = "\n".join(f"- {p}" for p in found)
    return ProposalError(f"{tool} rejected the arguments, nothing was proposed:\n{lines}\n"
                         f"Example of a valid call: {example}")


def validate_route(route: Any, rename: dict[str, str] | None = None) -> list[str]:
    """Problems with a route as a proposal, a decision or the operator's edit may hold it (no auth, ever).

    ``rename`` maps file keys to the names the caller used (the tool says path_prefixes).
    """
    if isinstance(route, Mapping):
        found = _unknown_args(route, ("host", "path_allowlist", "methods"), "the route")
        if found:
            return found
    found = problems(route, PROPOSAL, "$defs/route", rename=rename)
    if isinstance(route, Mapping) and isinstance(route.get("host"), str):
        why = hostname_problem(route["host"])
        if why:
            found = [p for p in found if not p.startswith("host:")] + [f"host {route['host']!r} {why}"]
    return found


def validate_capabilities(caps: Any) -> list[str]:
    if isinstance(caps, Mapping):
        found = _unknown_args(caps, ("apt", "npm", "dockerfile"), "the capabilities")
        if found:
            return found
    return problems(caps, PROPOSAL, "$defs/capabilities")


def _new(slug: str, tool: str, justification: str, body: dict[str, Any], proposal_id: str,
         now: dt.datetime) -> dict[str, Any]:
    proposal = {"version": 1, "id": proposal_id, "slug": slug, "tool": tool, "created_at": _iso(now),
                "justification": justification, **body}
    found = validate_proposal(proposal)
    if found:  # the checks above should have caught it; never queue an invalid file
        raise ProposalError("internal validation failed: " + "; ".join(found))
    return proposal


def egress_proposal(args: Any, slug: str, proposal_id: str, now: dt.datetime) -> dict[str, Any]:
    """The proposal for an ``egress-block`` call, or :class:`ProposalError` naming every problem."""
    if not isinstance(args, Mapping):
        raise _fail(EGRESS_TOOL, ["arguments must be an object"], _EGRESS_EXAMPLE)
    found = _unknown_args(args, _EGRESS_ARGS, EGRESS_TOOL)
    justification = _justification(args, found)
    route: dict[str, Any] = {}
    host = args.get("host")
    if not isinstance(host, str) or not host.strip():
        found.append("host: required, an exact hostname such as api.example.com")
    else:
        why = hostname_problem(host.strip())
        if why:
            found.append(f"host {host!r} {why}{_host_hint(host.strip())}")
        else:
            route["host"] = normalise_host(host)
    paths = _string_list(args, "path_prefixes", found)
    if paths is not None:
        route["path_allowlist"] = list(dict.fromkeys(paths))
    methods = _string_list(args, "methods", found)
    if methods is not None:
        route["methods"] = list(dict.fromkeys(m.upper() for m in methods))
    # Check paths and methods even when the host is wrong, so one retry can fix everything.
    found += [p for p in validate_route({"host": "example.com", **route}, {"path_allowlist": "path_prefixes"})
              if not p.startswith("host")]
    if found:
        raise _fail(EGRESS_TOOL, found, _EGRESS_EXAMPLE)
    return _new(slug, EGRESS_TOOL, justification, {"route": route}, proposal_id, now)


def capability_proposal(args: Any, slug: str, proposal_id: str, now: dt.datetime) -> dict[str, Any]:
    """The proposal for a ``capability-block`` call, or :class:`ProposalError` naming every problem."""
    if not isinstance(args, Mapping):
        raise _fail(CAPABILITY_TOOL, ["arguments must be an object"], _CAPABILITY_EXAMPLE)
    found = _unknown_args(args, _CAPABILITY_ARGS, CAPABILITY_TOOL)
    justification = _justification(args, found)
    caps: dict[str, list[str]] = {}
    for key in ("apt", "npm", "dockerfile"):
        values = _string_list(args, key, found)
        if values:
            caps[key] = list(dict.fromkeys(v.strip() for v in values))
    if not caps and not found:
        found.append("name at least one of apt, npm or dockerfile")
    if caps:
        found += validate_capabilities(caps)
    if found:
        raise _fail(CAPABILITY_TOOL, found, _CAPABILITY_EXAMPLE)
    return _new(slug, CAPABILITY_TOOL, justification, {"capabilities": caps}, proposal_id, now)


def validate_proposal(data: Any) -> list[str]:
    found = problems(data, PROPOSAL)
    if isinstance(data, Mapping) and "route" in data:
        # The route checks explain a credential field; the schema only calls it unknown.
        found = [p for p in found if not p.startswith("route")]
        found += [f"route: {p}" for p in validate_route(data["route"])]
    return found


def validate_decision(data: Any) -> list[str]:
    return problems(data, DECISION)


def request_key(proposal: Mapping[str, Any]) -> str:
    """Same tool and same request: a retried call waits on the pending proposal instead of adding one."""
    body = {"tool": proposal["tool"], "route": proposal.get("route"), "capabilities": proposal.get("capabilities")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def make_decision(proposal: Mapping[str, Any], outcome: str, by: str, now: dt.datetime, *,
                  note: str | None = None, reason: str | None = None, error: str | None = None,
                  approved: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The decision record; ``approved`` is the (possibly edited) route or capabilities that were applied."""
    out: dict[str, Any] = {"version": 1, "id": proposal["id"], "outcome": outcome, "decided_by": by,
                           "decided_at": _iso(now)}
    if approved is not None:
        key = "route" if proposal["tool"] == EGRESS_TOOL else "capabilities"
        original = proposal.get(key)
        out["edited"] = dict(approved) != original
        out[key] = dict(approved)
    for key, value in (("note", note), ("reason", reason), ("error", error)):
        if value:
            out[key] = value
    found = validate_decision(out)
    if found:
        raise ProposalError("invalid decision: " + "; ".join(found))
    return out


def _describe_route(route: Mapping[str, Any]) -> str:
    paths = ", ".join(route["path_allowlist"]) if route.get("path_allowlist") else "any path"
    methods = ", ".join(route["methods"]) if route.get("methods") else "any method"
    return f"{route['host']} ({paths}; {methods})"


def _describe_caps(caps: Mapping[str, Any]) -> str:
    parts = []
    for key, label in (("apt", "apt"), ("npm", "npm"), ("dockerfile", "Dockerfile")):
        if caps.get(key):
            parts.append(f"{label}: {', '.join(caps[key])}")
    return "; ".join(parts)


def summary(proposal: Mapping[str, Any]) -> str:
    """One line for the operator's list."""
    if proposal["tool"] == EGRESS_TOOL:
        return _describe_route(proposal["route"])
    return _describe_caps(proposal["capabilities"])


def reply(proposal: Mapping[str, Any], decision: Mapping[str, Any]) -> str:
    """What the blocked tool call tells the agent once the operator decided."""
    pid, outcome = proposal["id"], decision["outcome"]
    is_route = proposal["tool"] == EGRESS_TOOL
    if outcome == "denied":
        return (f"Denied by the operator (proposal {pid}). Reason: {decision['reason']}\n"
                "Do not retry the same request; adapt your approach or ask the user.")
    if outcome == "apply_failed":
        return (f"The operator approved proposal {pid}, but applying it failed, so nothing changed: "
                f"{decision['error']}\nTell the user; retrying the request will be blocked as before.")
    if is_route:
        route = decision.get("route") or proposal["route"]
        text = f"Approved by the operator (proposal {pid}): {_describe_route(route)} is allowed now; retry your request."
    else:
        caps = decision.get("capabilities") or proposal["capabilities"]
        text = (f"Approved by the operator (proposal {pid}): {_describe_caps(caps)} is installed in the "
                "rebuilt agent image.")
    if decision.get("edited"):
        text += " The operator changed your request before approving it; what was approved is stated above."
    if decision.get("note"):
        text += f"\nNote from the operator: {decision['note']}"
    return text


def pending_reply(proposal: Mapping[str, Any], waited: float, reused: bool) -> str:
    """The answer when the operator has not decided within the timeout."""
    pid = proposal["id"]
    again = f"call {proposal['tool']} again with the same arguments to keep waiting for it"
    prefix = "An identical request is already pending" if reused else "No decision yet"
    return (f"{prefix}: proposal {pid} ({summary(proposal)}) is still waiting for the operator after "
            f"{waited:.0f}s. It stays in the queue; {again}, or carry on with other work meanwhile.")


def display(text: str, limit: int = 0) -> str:
    """Text from the agent made safe for a terminal: no escape sequences or control characters."""
    clean = "".join(c if c.isprintable() else " " for c in text)
    return clean if not limit or len(clean) <= limit else clean[: limit - 1] + "…"
