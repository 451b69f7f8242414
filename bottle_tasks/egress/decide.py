"""Egress decisions as pure functions of (route table, request facts).

Each check returns a Verdict; the mitmproxy addons only gather facts and apply
verdicts. Nothing here does I/O.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Mapping
from urllib.parse import parse_qsl

from .pathnorm import NormalisedPath, normalise_path
from .routes import Route, RouteTable, normalise_host

__all__ = [
    "RequestFacts", "Verdict", "CredentialPlan", "ALWAYS_REFUSED_METHODS",
    "check_fronting", "check_route", "check_git_push", "decide_request",
    "plan_credentials", "check_upstream_address", "forbidden_range", "is_git_push",
]

ALWAYS_REFUSED_METHODS = frozenset({"TRACE", "TRACK"})
CLIENT_CREDENTIAL_HEADERS = ("Authorization", "Proxy-Authorization")


@dataclass(frozen=True)
class RequestFacts:
    """What the proxy knows about one request, independent of mitmproxy types."""

    method: str
    scheme: str  # http | https
    host: str  # host mitmproxy will connect to (absolute-form URL, or Host inside a tunnel)
    port: int
    target: str  # origin-form path with query, as received
    host_header: str | None = None
    connect_target: tuple[str, int] | None = None  # CONNECT authority of the tunnel carrying this request
    sni: str | None = None  # TLS SNI the client sent, when client TLS
    client_tls: bool = False
    content_type: str = ""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    rule: str  # which check decided: route, path, method, fronting, ssrf, git-push, dlp, credentials
    reason: str  # short, model-facing sentence
    route: Route | None = None
    path: NormalisedPath | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def allow(cls, rule: str, route: Route | None = None, path: NormalisedPath | None = None) -> "Verdict":
        return cls(True, rule, "allowed", route, path)

    @classmethod
    def block(cls, rule: str, reason: str, route: Route | None = None, **details: str) -> "Verdict":
        return cls(False, rule, reason, route, None, details)


def _split_host_header(value: str) -> tuple[str, int | None] | None:
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[1:end], value[end + 1 :]
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
        rest = ":" + port
    elif ":" in value:
        return None
    else:
        host, rest = value, ""
    if not rest:
        return host, None
    if not rest.startswith(":") or not rest[1:].isdigit():
        return None
    return host, int(rest[1:])


def check_fronting(facts: RequestFacts) -> Verdict:
    """Every name for the destination must agree: CONNECT target, SNI, URL host, Host header, port."""
    if facts.connect_target is not None and (not facts.client_tls or facts.scheme != "https"):
        c_host, c_port = facts.connect_target
        return Verdict.block(
            "fronting",
            f"the CONNECT tunnel to {c_host}:{c_port} did not carry TLS; opaque or plain-text tunnels are refused",
        )
    host = normalise_host(facts.host)
    if host is None:
        return Verdict.block("fronting", f"the request host {facts.host!r} is not a valid hostname")
    default_port = 443 if facts.scheme == "https" else 80
    if facts.host_header is not None:
        parsed = _split_host_header(facts.host_header)
        if parsed is None or normalise_host(parsed[0]) != host:
            return Verdict.block(
                "fronting",
                f"the Host header ({facts.host_header}) does not match the request target ({facts.host}); "
                "domain fronting is refused",
            )
        if (parsed[1] or default_port) != facts.port:
            return Verdict.block("fronting", "the Host header port does not match the request target port")
    if facts.connect_target is not None:
        c_host, c_port = facts.connect_target
        if normalise_host(c_host) != host or c_port != facts.port:
            return Verdict.block(
                "fronting",
                f"the request goes to {facts.host}:{facts.port} inside a CONNECT tunnel to {c_host}:{c_port}; "
                "domain fronting is refused",
            )
    if facts.client_tls:
        if not facts.sni:
            return Verdict.block("fronting", "the TLS client hello carried no SNI; the server name is required")
        if normalise_host(facts.sni) != host:
            return Verdict.block(
                "fronting",
                f"the TLS SNI ({facts.sni}) does not match the request host ({facts.host}); domain fronting is refused",
            )
    return Verdict.allow("fronting")


def check_route(table: RouteTable, facts: RequestFacts) -> Verdict:
    """Exact host, then method, then normalised path."""
    method = facts.method.upper()
    if method in ALWAYS_REFUSED_METHODS:
        return Verdict.block("method", f"{method} requests are always refused")
    route = table.lookup(facts.host)
    if route is None:
        return Verdict.block("route", f"host {facts.host} is not in this bottle's egress routes")
    if not route.method_allowed(method):
        allowed = ", ".join(sorted(route.methods or ()))
        return Verdict.block("method", f"method {method} is not allowed for {route.host} (allowed: {allowed})", route)
    path = normalise_path(facts.target)
    if path.refused:
        return Verdict.block("path", f"{path.refused}; refused as a path traversal attempt", route)
    assert path.path is not None
    if not route.path_allowed(path.path):
        allowed = ", ".join(route.path_allowlist or ())
        if path.had_dot_segments:
            reason = f"dot segments in the path escape the allowed prefixes of {route.host} ({allowed})"
        else:
            reason = f"path {path.path} is not under the allowed prefixes of {route.host} ({allowed})"
        return Verdict.block("path", reason, route)
    return Verdict.allow("route", route, path)


def is_git_push(path: str, query: str, content_type: str = "") -> bool:
    """True for any step of git's smart-HTTP push (receive-pack), however it is spelt."""
    if path.rstrip("/").lower().endswith("/git-receive-pack"):
        return True
    if "git-receive-pack" in content_type.lower():
        return True
    for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        if key.lower() == "service" and value.strip().lower() == "git-receive-pack":
            return True
    return False


def check_git_push(facts: RequestFacts, path: NormalisedPath | None = None) -> Verdict:
    path = path or normalise_path(facts.target)
    if is_git_push(path.path or facts.target.partition("?")[0], path.query, facts.content_type):
        return Verdict.block(
            "git-push", "git push over HTTP(S) is refused on every route; push through the bottle's git gate"
        )
    return Verdict.allow("git-push")


def decide_request(table: RouteTable, facts: RequestFacts) -> Verdict:
    """Fronting, route (host, method, path) and git-push checks, first refusal wins."""
    fronting = check_fronting(facts)
    if not fronting.allowed:
        return fronting
    routed = check_route(table, facts)
    if not routed.allowed:
        return routed
    push = check_git_push(facts, routed.path)
    if not push.allowed:
        return Verdict(False, push.rule, push.reason, routed.route)
    return routed


@dataclass(frozen=True)
class CredentialPlan:
    strip: tuple[str, ...] = ()
    inject: tuple[str, str] | None = None  # (header, value); the value is the real token
    verdict: Verdict = field(default_factory=lambda: Verdict.allow("credentials"))


def plan_credentials(route: Route, facts: RequestFacts, env: Mapping[str, str], upstream_tls_verified: bool) -> CredentialPlan:
    """Strip what the client sent, inject the real token only over verified TLS to the route's own host."""
    if route.auth is None:
        return CredentialPlan(strip=("Proxy-Authorization",))
    strip = tuple(dict.fromkeys((*CLIENT_CREDENTIAL_HEADERS, route.auth.header_name)))
    if normalise_host(facts.host) != route.host or facts.scheme != "https" or not upstream_tls_verified:
        return CredentialPlan(
            strip,
            None,
            Verdict.block(
                "credentials",
                f"{route.host} needs credentials, which are only added over HTTPS with a verified certificate; "
                "use https://",
                route,
            ),
        )
    token = env.get(route.auth.token_env)
    if not token:
        return CredentialPlan(
            strip,
            None,
            Verdict.block(
                "credentials",
                f"the egress proxy has no value for {route.auth.token_env}, so it cannot authenticate to {route.host}; "
                "ask the operator to set it",
                route,
            ),
        )
    return CredentialPlan(strip, (route.auth.header_name, route.auth.header_value(token)))


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_FORBIDDEN: tuple[tuple[str, str], ...] = (
    ("169.254.169.254/32", "cloud metadata"),
    ("fd00:ec2::254/128", "cloud metadata"),
    ("100.100.100.200/32", "cloud metadata"),
    ("0.0.0.0/8", "unspecified"),
    ("::/128", "unspecified"),
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("fc00::/7", "private"),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("100.64.0.0/10", "CGNAT"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
_FORBIDDEN_NETS = tuple((ipaddress.ip_network(net), label) for net, label in _FORBIDDEN)


def _embedded_v4(ip: IpAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@lru_cache(maxsize=4096)
def forbidden_range(ip: IpAddress) -> str | None:
    """Label of the non-public range ``ip`` falls in (metadata, loopback, private ...), or None if public."""
    embedded = _embedded_v4(ip)
    if embedded is not None:
        return forbidden_range(embedded)
    for net, label in _FORBIDDEN_NETS:
        if ip.version == net.version and ip in net:
            return label
    if not ip.is_global:
        return "reserved"
    return None


def check_upstream_address(route: Route | None, host: str, addresses: Iterable[IpAddress]) -> Verdict:
    """Refuse dialling when any resolved address is non-public and not covered by the route's allow_cidrs."""
    addresses = list(addresses)
    if not addresses:
        return Verdict.block("ssrf", f"{host} did not resolve to any address", route)
    cidrs = route.allow_cidrs if route else ()
    for ip in addresses:
        label = forbidden_range(ip)
        if label is None:
            continue
        if any(ip.version == net.version and ip in net for net in cidrs):
            continue
        return Verdict.block(
            "ssrf",
            f"{host} resolves to {ip}, a {label} address; internal addresses are refused unless the route lists "
            "them in allow_cidrs",
            route,
            address=str(ip),
        )
    return Verdict.allow("ssrf", route)
