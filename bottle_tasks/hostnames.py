"""Hostname checks for egress routes: exact names only."""
from __future__ import annotations

import ipaddress
import re

__all__ = ["hostname_problem", "normalise_host"]

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_host(host: str) -> str:
    """Lowercase, strip one trailing dot, IDNA-encode non-ASCII labels."""
    host = host.strip().rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return host


def hostname_problem(host: object) -> str | None:
    """Why ``host`` cannot be a route host, or None when it is a valid exact hostname."""
    if not isinstance(host, str) or not host:
        return "must be a non-empty hostname"
    if "://" in host:
        return "must be a bare hostname, not a URL (drop the scheme)"
    if "*" in host:
        return "wildcards are not allowed; list each exact hostname as its own route"
    if "/" in host:
        return "must be a bare hostname without a path (put paths in path_allowlist)"
    if ":" in host:
        return "must be a bare hostname without a port"
    try:
        ipaddress.ip_address(host)
        return "must be a hostname, not an IP address"
    except ValueError:
        pass
    name = normalise_host(host)
    if len(name) > 253:
        return "is longer than 253 characters"
    labels = name.split(".")
    if len(labels) < 2:
        return "must be a fully qualified hostname such as api.example.com"
    for label in labels:
        if not _LABEL.match(label):
            return f"has an invalid label '{label}' (letters, digits and '-' only)"
    return None
