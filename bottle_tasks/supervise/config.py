"""The supervise server's settings (``/etc/claude-bottle/supervise.json``, rendered by ``render:<agent>``).

    {"slug": "researcher", "listen_host": "supervise", "port": 9100,
     "queue_dir": "/var/lib/claude-bottle/queue", "timeout_seconds": 600,
     "egress_introspect_url": "http://_egress.local/routes", "egress_proxy": "http://127.0.0.1:9099"}

``listen_host`` is resolved once at start and the server binds that address
only: the bundle's alias on the internal network resolves to its
internal-network IP, so the port never listens on the egress network.
"""
from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import BottleError
from ..fsutil import read_json
from .formats import CONFIG, problems

__all__ = ["SuperviseConfig", "load_config", "config_from_dict", "resolve_bind_address"]

# Binding every interface would expose the port on the egress network too.
_WILDCARDS = {"0.0.0.0", "::", ""}


@dataclass(frozen=True)
class SuperviseConfig:
    slug: str
    listen_host: str
    port: int
    queue_dir: Path
    timeout_seconds: int
    egress_introspect_url: str
    egress_proxy: str


def config_from_dict(data: object, source: str = "supervise.json") -> SuperviseConfig:
    found = problems(data, CONFIG)
    if not found and data["listen_host"].strip("[]") in _WILDCARDS:  # type: ignore[index]
        found = [f"listen_host: {data['listen_host']!r} would listen on every network; "  # type: ignore[index]
                 "name the internal-network alias (supervise) or address"]
    if found:
        raise BottleError(f"{source} is not a valid supervise config:\n" + "\n".join(f"  - {p}" for p in found))
    return SuperviseConfig(**{**data, "queue_dir": Path(data["queue_dir"])})  # type: ignore[arg-type, index]


def load_config(path: Path) -> SuperviseConfig:
    return config_from_dict(read_json(Path(path), "the supervise config"), str(path))


def resolve_bind_address(host: str, wait_seconds: float = 30.0) -> str:
    """The single IP ``host`` names; waits for the container's DNS, which may lag the network attach."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            addresses = sorted({info[4][0] for info in infos}, key=lambda a: (":" in a, a))
            if addresses:
                return addresses[0]
        except socket.gaierror as exc:
            if time.monotonic() >= deadline:
                raise BottleError(f"listen_host {host!r} does not resolve ({exc.strerror}); the supervise "
                                  "server binds only the bottle's internal-network address") from None
        time.sleep(0.5)
