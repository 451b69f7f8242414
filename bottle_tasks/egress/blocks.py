"""What a refused request sees: a 403 whose reason header and body tell the
model what was blocked, why, and which supervise tool to call.
"""
from __future__ import annotations

from dataclasses import dataclass

from .decide import Verdict

__all__ = ["BlockResponse", "render_block", "REASON_HEADER", "SUPERVISE_SERVER", "PROPOSE_TOOL", "LIST_TOOL"]

REASON_HEADER = "X-Bottle-Block-Reason"
SUPERVISE_SERVER = "supervise"
PROPOSE_TOOL = "egress-block"
LIST_TOOL = "list-egress-routes"
_MAX_HEADER = 300

_ASK = (
    f"If your task needs this, call the `{PROPOSE_TOOL}` tool on the `{SUPERVISE_SERVER}` MCP server with the "
    "host, method, path and a one-line justification. The operator approves or denies it; an approved route "
    f"applies live and you can retry. `{LIST_TOOL}` shows what is allowed now."
)
_NEXT_STEP = {
    "git-push": "Push with plain `git push` to the bottle's git remote (the git gate), not over HTTP(S).",
    "dlp": "Remove the secret from the request and retry. " + _ASK,
    "exfil": "Bottle credentials are only ever sent, by the proxy itself, to the host they belong to. Do not "
    "copy them into requests.",
    "fronting": "Send the request with matching host names (URL, Host header and TLS SNI) through the proxy.",
    "credentials": _ASK,
}


@dataclass(frozen=True)
class BlockResponse:
    status: int
    reason_header: str
    body: str


def _header_safe(text: str) -> str:
    clean = "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in text)
    return clean[:_MAX_HEADER]


def render_block(verdict: Verdict, method: str, url: str) -> BlockResponse:
    """The 403 for ``verdict``; ``url`` should carry no query string, which may hold secrets."""
    body = (
        f"Blocked by the claude-bottle egress proxy: {method} {url}\n"
        f"Why: {verdict.reason}.\n"
        f"What to do: {_NEXT_STEP.get(verdict.rule, _ASK)}\n"
    )
    return BlockResponse(403, _header_safe(f"{verdict.rule}: {verdict.reason}"), body)
