"""Route allowlist: exact host, method, normalised path. The upstream receives the normalised path."""
from __future__ import annotations

from mitmproxy import http

from ..decide import check_route
from ..state import EgressState
from .common import ROUTE, VERDICT, block, facts_for, settled

__all__ = ["Routing"]


class Routing:
    def __init__(self, state: EgressState) -> None:
        self.state = state

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if settled(flow):
            return
        verdict = check_route(self.state.table, facts_for(flow, self.state))
        if not verdict.allowed:
            block(flow, verdict)
            return
        flow.metadata[ROUTE] = verdict.route
        flow.metadata[VERDICT] = verdict
        if verdict.path is not None and verdict.path.target != flow.request.path:
            flow.request.path = verdict.path.target
