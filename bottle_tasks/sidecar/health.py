"""Health check of the sidecars bundle: does every configured daemon accept connections?

Exit 0 when all answer; otherwise print one line per daemon that does not
and exit 1. Used by the compose healthcheck and by ``up`` while it waits.
"""
from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

from . import DAEMONS, SUPERVISORD_CONF

__all__ = ["configured_daemons", "check", "main"]

# Where each daemon listens, seen from inside the bundle. supervise binds only
# to its internal-network address, reachable under its alias.
_HOSTS = {"egress": "127.0.0.1", "git-gate": "127.0.0.1", "supervise": "supervise"}


def configured_daemons(conf: str) -> list[str]:
    return [name for name in re.findall(r"^\[program:([^\]]+)\]", conf, re.M) if name in DAEMONS]


def _egress_serves_routes(timeout: float) -> str | None:
    """The proxy counts as up only once it answers with its loaded route table."""
    import json
    import urllib.request
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{DAEMONS['egress']}"}))
    try:
        with opener.open("http://_egress.local/routes", timeout=timeout) as resp:
            json.load(resp)
    except (OSError, ValueError) as exc:
        return f"127.0.0.1:{DAEMONS['egress']}: no route table ({exc})"
    return None


def check(names: list[str], timeout: float = 1.0) -> dict[str, str | None]:
    """Daemon name -> None when it answers, else why not."""
    result: dict[str, str | None] = {}
    for name in names:
        if name == "egress":
            result[name] = _egress_serves_routes(timeout)
            continue
        try:
            with socket.create_connection((_HOSTS[name], DAEMONS[name]), timeout=timeout):
                result[name] = None
        except OSError as exc:
            result[name] = f"{_HOSTS[name]}:{DAEMONS[name]}: {exc.strerror or exc}"
    return result


def main() -> int:
    names = configured_daemons(Path(SUPERVISORD_CONF).read_text())
    failures = {n: why for n, why in check(names).items() if why}
    for name, why in failures.items():
        print(f"{name} not answering ({why})")
    if not failures:
        print("ok: " + ", ".join(names))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
