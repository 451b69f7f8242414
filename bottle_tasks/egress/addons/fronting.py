"""Anti-fronting: CONNECT target, SNI, URL host and Host header must name one
destination, and tunnels must carry TLS (no opaque tunnels)."""
from __future__ import annotations

import logging

from mitmproxy import connection, http, tcp, udp

from ..decide import Verdict, check_fronting
from ..routes import normalise_host
from ..state import EgressState
from .common import block, facts_for, settled

__all__ = ["Fronting"]

log = logging.getLogger(__name__)


class Fronting:
    def __init__(self, state: EgressState) -> None:
        self.state = state

    def http_connect(self, flow: http.HTTPFlow) -> None:
        host, port = flow.request.host, flow.request.port
        if normalise_host(host) is None:
            block(flow, Verdict.block("fronting", f"CONNECT target {host!r} is not a valid hostname"))
            return
        previous = self.state.tunnels.get(flow.client_conn.id)
        if previous is not None and previous != (host, port):
            block(flow, Verdict.block("fronting", "a second CONNECT to a different target on one connection is refused"))
            return
        self.state.tunnels[flow.client_conn.id] = (host, port)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if settled(flow):
            return
        verdict = check_fronting(facts_for(flow, self.state))
        if not verdict.allowed:
            block(flow, verdict)

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        log.warning("egress: refusing opaque tunnel from %s to %s", flow.client_conn.peername, flow.server_conn.address)
        flow.metadata["bottle.verdict"] = Verdict.block("fronting", "CONNECT tunnels must carry TLS")
        flow.kill()

    def udp_start(self, flow: udp.UDPFlow) -> None:
        flow.kill()

    def client_disconnected(self, client: connection.Client) -> None:
        self.state.tunnels.pop(client.id, None)
