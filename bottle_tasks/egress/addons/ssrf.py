"""SSRF guard on the address actually dialled.

The request is checked early (so a refusal is a readable 403) and again in
server_connect, which dials exactly the addresses that were checked: the
resolution is cached and the server address is pinned to the checked IP for
the connect call, so DNS cannot rebind in between.
"""
from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import time
from typing import Mapping

from mitmproxy import http
from mitmproxy.proxy import server_hooks

from ..decide import Verdict, check_upstream_address
from ..routes import normalise_host
from ..state import EgressState
from .common import block, route_of, settled

__all__ = ["SsrfGuard", "parse_test_resolve", "TEST_RESOLVE_ENV"]

# Test-only: "name=ip,name=ip" answers for those names instead of DNS, so host
# integration tests need no resolver. Never set in the sidecar image.
TEST_RESOLVE_ENV = "EGRESS_TEST_RESOLVE"
_TTL = 30.0

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_test_resolve(value: str) -> dict[str, IpAddress]:
    out: dict[str, IpAddress] = {}
    for item in filter(None, (p.strip() for p in value.split(","))):
        name, _, ip = item.partition("=")
        host = normalise_host(name)
        if host:
            out[host] = ipaddress.ip_address(ip.strip())
    return out


class SsrfGuard:
    def __init__(self, state: EgressState, overrides: Mapping[str, IpAddress] | None = None) -> None:
        self.state = state
        if overrides is None:
            overrides = parse_test_resolve(os.environ.get(TEST_RESOLVE_ENV, ""))
        self.overrides = dict(overrides)
        self._cache: dict[tuple[str, int], tuple[float, list[IpAddress]]] = {}
        self._pinned: dict[str, tuple[str, int]] = {}

    async def _resolve(self, host: str, port: int) -> list[IpAddress]:
        name = normalise_host(host) or host
        if name in self.overrides:
            return [self.overrides[name]]
        key = (name, port)
        hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        if _is_ip(host):
            return [ipaddress.ip_address(host.strip("[]"))]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except OSError:
            infos = []
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        self._cache[key] = (time.monotonic() + _TTL, addresses)
        return addresses

    async def _check(self, host: str, port: int) -> tuple[Verdict, list[IpAddress]]:
        addresses = await self._resolve(host, port)
        route = self.state.table.lookup(host)
        return check_upstream_address(route, host, addresses), addresses

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        if settled(flow) or route_of(flow) is None:
            return
        verdict, _ = await self._check(flow.request.host, flow.request.port)
        if not verdict.allowed:
            block(flow, Verdict(False, verdict.rule, verdict.reason, route_of(flow), None, verdict.details))

    async def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        server = data.server
        if server.address is None or server.via is not None:
            return
        host, port = server.address
        verdict, addresses = await self._check(host, port)
        if not verdict.allowed:
            server.error = f"claude-bottle egress: {verdict.reason}"
            return
        if server.sni is None and normalise_host(host) and not _is_ip(host):
            server.sni = host
        self._pinned[server.id] = (host, port)
        server.address = (str(addresses[0]), port)

    def server_connected(self, data: server_hooks.ServerConnectionHookData) -> None:
        self._restore(data)

    def server_connect_error(self, data: server_hooks.ServerConnectionHookData) -> None:
        self._restore(data)

    def _restore(self, data: server_hooks.ServerConnectionHookData) -> None:
        # Put the hostname back so mitmproxy reuses this connection for later
        # requests to the same host; the socket stays on the checked IP.
        # Server.__setattr__ refuses address changes on open connections to
        # stop redirects; this only relabels, so it writes the field directly.
        original = self._pinned.pop(data.server.id, None)
        if original is not None:
            data.server.__dict__["address"] = original


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False
