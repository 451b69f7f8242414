"""The proxy's live state: the route table loaded from disk, and the secrets it implies.

The only egress module besides the addons that touches the filesystem and
environment; the table is swapped atomically so requests see old or new, never half.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .dlp import KnownSecret
from .routes import RouteTable, RoutesError, load_routes

__all__ = ["EgressState", "ReloadResult", "known_secrets"]


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    routes: int
    error: str | None = None


def known_secrets(table: RouteTable, env: Mapping[str, str]) -> tuple[KnownSecret, ...]:
    """Each route's real token and placeholder, owned by every route host that uses the same value."""
    owners: dict[tuple[str, str], set[str]] = {}
    names: dict[tuple[str, str], set[str]] = {}
    for route in table.routes:
        if route.auth is None:
            continue
        token = env.get(route.auth.token_env)
        keys = [(route.auth.placeholder, "bottle placeholder")]
        if token:
            keys.append((token, "bottle token"))
        for key in keys:
            owners.setdefault(key, set()).add(route.host)
            names.setdefault(key, set()).add(route.auth.token_env)
    return tuple(
        KnownSecret(value, kind, ",".join(sorted(names[(value, kind)])), frozenset(hosts))
        for (value, kind), hosts in owners.items()
    )


@dataclass
class EgressState:
    routes_file: Path
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    table: RouteTable = field(default_factory=RouteTable)
    secrets: tuple[KnownSecret, ...] = ()
    loaded_at: float | None = None
    # CONNECT authority per client connection, for anti-fronting checks on the requests inside.
    tunnels: dict[str, tuple[str, int]] = field(default_factory=dict)

    def install(self, table: RouteTable) -> None:
        self.secrets = known_secrets(table, self.env)
        self.table = table
        self.loaded_at = time.time()

    def reload(self) -> ReloadResult:
        """Load ``routes_file``; on any problem keep the current table and say why."""
        try:
            text = self.routes_file.read_text(encoding="utf-8")
            table = load_routes(text, str(self.routes_file))
        except OSError as exc:
            return ReloadResult(False, len(self.table.routes), f"cannot read {self.routes_file}: {exc.strerror}")
        except RoutesError as exc:
            return ReloadResult(False, len(self.table.routes), str(exc))
        self.install(table)
        return ReloadResult(True, len(table.routes))

    def secret_values(self) -> tuple[str, ...]:
        return tuple(v for s in self.secrets for v in s.variants)
