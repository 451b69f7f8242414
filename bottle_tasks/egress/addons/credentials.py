"""Credential injection: client-supplied auth is stripped, the real token from
the sidecar's environment is added only over verified TLS to the route's host."""
from __future__ import annotations

from mitmproxy import ctx, http

from ..decide import plan_credentials
from ..state import EgressState
from .common import INJECTED, block, facts_for, route_of, settled

__all__ = ["Credentials"]


class Credentials:
    def __init__(self, state: EgressState) -> None:
        self.state = state

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if settled(flow):
            return
        route = route_of(flow)
        if route is None:
            return
        facts = facts_for(flow, self.state)
        verified = facts.scheme == "https" and not ctx.options.ssl_insecure
        plan = plan_credentials(route, facts, self.state.env, verified)
        # One pass over the headers instead of a KeyError per absent name (pop's way of saying "not there").
        present = {name.lower() for name in flow.request.headers}
        for name in plan.strip:
            if name.lower() in present:
                del flow.request.headers[name]
        if not plan.verdict.allowed:
            block(flow, plan.verdict)
            return
        if plan.inject is not None:
            name, value = plan.inject
            flow.request.headers[name] = value
            assert route.auth is not None
            flow.metadata[INJECTED] = route.auth.token_env
