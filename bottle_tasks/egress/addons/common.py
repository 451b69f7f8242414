"""Helpers the egress addons share: request facts from a flow, and applying a block."""
from __future__ import annotations

from typing import Any

from mitmproxy import http

from ..blocks import REASON_HEADER, render_block
from ..decide import RequestFacts, Verdict
from ..routes import Route
from ..state import EgressState

__all__ = [
    "FACTS", "ROUTE", "VERDICT", "DLP", "INTERNAL", "INJECTED", "WS_BLOCKED",
    "facts_for", "settled", "block", "route_of", "public_url",
]

FACTS = "bottle.facts"
ROUTE = "bottle.route"
VERDICT = "bottle.verdict"
DLP = "bottle.dlp"
INTERNAL = "bottle.internal"
INJECTED = "bottle.injected"
# Set on a websocket flow once a message was refused: nothing more is relayed on it.
WS_BLOCKED = "bottle.ws_blocked"


def facts_for(flow: http.HTTPFlow, state: EgressState) -> RequestFacts:
    """The request's facts, computed once per flow from what the client sent."""
    cached = flow.metadata.get(FACTS)
    if isinstance(cached, RequestFacts):
        return cached
    req = flow.request
    client = flow.client_conn
    facts = RequestFacts(
        method=req.method,
        scheme=req.scheme,
        host=req.host,
        port=req.port,
        target=req.path,
        host_header=req.host_header,
        connect_target=state.tunnels.get(client.id),
        sni=client.sni,
        client_tls=client.tls_established,
        content_type=req.headers.get("content-type", ""),
    )
    flow.metadata[FACTS] = facts
    return facts


def settled(flow: http.HTTPFlow) -> bool:
    """True once a response is decided (blocked or answered locally): later addons leave the flow alone."""
    return flow.response is not None or flow.error is not None


def route_of(flow: http.HTTPFlow) -> Route | None:
    route: Any = flow.metadata.get(ROUTE)
    return route if isinstance(route, Route) else None


def public_url(flow: http.HTTPFlow) -> str:
    """scheme://host[:port]/path with the query dropped, since queries can carry secrets."""
    req = flow.request
    default = 443 if req.scheme == "https" else 80
    port = "" if req.port == default else f":{req.port}"
    path = req.path.partition("?")[0]
    return f"{req.scheme}://{req.host}{port}{path}"


def block(flow: http.HTTPFlow, verdict: Verdict) -> None:
    rendered = render_block(verdict, flow.request.method, public_url(flow))
    flow.request.stream = False
    flow.response = http.Response.make(
        rendered.status,
        rendered.body.encode(),
        {"Content-Type": "text/plain; charset=utf-8", REASON_HEADER: rendered.reason_header, "Connection": "close"},
    )
    flow.metadata[VERDICT] = verdict
