"""``GET http://_egress.local/routes``: the live route table, without secrets."""
from __future__ import annotations

import json

from mitmproxy import http

from ..decide import Verdict
from ..routes import normalise_host
from ..state import EgressState
from .common import INTERNAL, VERDICT

__all__ = ["Introspect", "INTROSPECT_HOST"]

INTROSPECT_HOST = "_egress.local"


class Introspect:
    def __init__(self, state: EgressState) -> None:
        self.state = state

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if normalise_host(flow.request.host) != INTROSPECT_HOST:
            return
        flow.metadata[INTERNAL] = True
        flow.request.stream = False
        path = flow.request.path.partition("?")[0]
        if flow.request.method == "GET" and path == "/routes":
            body = self.state.table.public()
            body["loaded_at"] = self.state.loaded_at
            body["routes_file"] = str(self.state.routes_file)
            for route, public in zip(self.state.table.routes, body["routes"]):
                if route.auth is not None:
                    public["auth"]["token_configured"] = bool(self.state.env.get(route.auth.token_env))
            flow.response = http.Response.make(
                200, json.dumps(body, indent=2).encode() + b"\n", {"Content-Type": "application/json"}
            )
            flow.metadata[VERDICT] = Verdict.allow("introspect")
        else:
            flow.response = http.Response.make(
                404, b"Egress introspection: GET http://_egress.local/routes\n", {"Content-Type": "text/plain"}
            )
            flow.metadata[VERDICT] = Verdict(False, "introspect", "unknown introspection endpoint")
