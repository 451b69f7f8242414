"""The script given to ``mitmdump -s``: the egress addons, configured from the environment.

EGRESS_ROUTES_FILE (default /etc/claude-bottle/routes.yaml) is the rendered
routes file; EGRESS_DECISION_LOG (default /var/log/claude-bottle/egress.jsonl)
the JSONL decision log. If the addons cannot be imported, a deny-all addon is
installed instead: mitmdump would otherwise run as an open proxy.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from mitmproxy import http

DEFAULT_ROUTES_FILE = "/etc/claude-bottle/routes.yaml"
DEFAULT_DECISION_LOG = "/var/log/claude-bottle/egress.jsonl"


class DenyAll:
    def __init__(self, error: str) -> None:
        self.error = error

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        flow.response = http.Response.make(
            403,
            b"Blocked: the claude-bottle egress proxy failed to start its policy; ask the operator.\n",
            {"X-Bottle-Block-Reason": "egress policy unavailable"},
        )

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self.requestheaders(flow)


try:
    from bottle_tasks.egress.addons import build_addons
    from bottle_tasks.egress.addons.chain import EgressChain

    addons = [EgressChain(build_addons(
        Path(os.environ.get("EGRESS_ROUTES_FILE", DEFAULT_ROUTES_FILE)),
        Path(os.environ.get("EGRESS_DECISION_LOG", DEFAULT_DECISION_LOG)),
    ))]
except Exception as exc:  # any failure must leave a closed proxy, not an open one
    logging.exception("egress: cannot load the egress addons; refusing all traffic")
    addons = [DenyAll(f"{type(exc).__name__}: {exc}")]
