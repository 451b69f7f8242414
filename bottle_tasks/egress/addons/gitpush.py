"""git push over smart HTTP (receive-pack) is refused on every route; fetch passes."""
from __future__ import annotations

from mitmproxy import http

from ..decide import check_git_push
from ..state import EgressState
from .common import block, facts_for, route_of, settled, VERDICT

__all__ = ["GitPush"]


class GitPush:
    def __init__(self, state: EgressState) -> None:
        self.state = state

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if settled(flow):
            return
        routed = flow.metadata.get(VERDICT)
        verdict = check_git_push(facts_for(flow, self.state), getattr(routed, "path", None))
        if not verdict.allowed:
            block(flow, verdict.__class__(False, verdict.rule, verdict.reason, route_of(flow)))
