"""The egress route table: model, loader and exact host matching.

Pure: no I/O beyond reading the bundled JSON Schema once.
"""
from __future__ import annotations

import base64
import ipaddress
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping

import yaml
from jsonschema import Draft202012Validator

from .schemas import schema_path

__all__ = [
    "Auth", "Route", "RouteTable", "RoutesError", "DEFAULT_PLACEHOLDER",
    "load_routes", "normalise_host",
]

DEFAULT_PLACEHOLDER = "bottle-placeholder"
SCHEMA_NAME = "routes.schema.json"


class RoutesError(ValueError):
    """The routes file is not valid; the message lists every problem."""


@dataclass(frozen=True)
class Auth:
    scheme: str  # bearer | basic | header
    token_env: str
    placeholder: str = DEFAULT_PLACEHOLDER
    header: str | None = None

    @property
    def header_name(self) -> str:
        return self.header if self.scheme == "header" and self.header else "Authorization"

    def header_value(self, token: str) -> str:
        if self.scheme == "bearer":
            return f"Bearer {token}"
        if self.scheme == "basic":
            return "Basic " + base64.b64encode(token.encode()).decode("ascii")
        return token


@dataclass(frozen=True)
class Route:
    host: str
    dlp: str
    path_allowlist: tuple[str, ...] | None = None
    methods: frozenset[str] | None = None
    auth: Auth | None = None
    allow_cidrs: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def path_allowed(self, path: str) -> bool:
        """Prefix match on a normalised path; a prefix without a trailing '/' ends at a segment boundary."""
        if self.path_allowlist is None:
            return True
        for prefix in self.path_allowlist:
            if prefix.endswith("/"):
                if path.startswith(prefix):
                    return True
            elif path == prefix or path.startswith(prefix + "/"):
                return True
        return False

    def method_allowed(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods

    def public(self) -> dict[str, Any]:
        """The route as introspection shows it: names of token variables, never values."""
        out: dict[str, Any] = {"host": self.host, "dlp": self.dlp}
        if self.path_allowlist is not None:
            out["path_allowlist"] = list(self.path_allowlist)
        if self.methods is not None:
            out["methods"] = sorted(self.methods)
        if self.auth is not None:
            auth: dict[str, Any] = {"scheme": self.auth.scheme, "token_env": self.auth.token_env}
            if self.auth.header:
                auth["header"] = self.auth.header
            out["auth"] = auth
        if self.allow_cidrs:
            out["allow_cidrs"] = [str(c) for c in self.allow_cidrs]
        return out


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[Route, ...] = ()
    _by_host: Mapping[str, Route] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_host", {r.host: r for r in self.routes})

    def lookup(self, host: str | None) -> Route | None:
        """The route whose host equals ``host`` after normalisation, or None."""
        name = normalise_host(host) if host else None
        return self._by_host.get(name) if name else None

    def public(self) -> dict[str, Any]:
        return {"version": 1, "routes": [r.public() for r in self.routes]}


@lru_cache(maxsize=4096)
def normalise_host(host: str) -> str | None:
    """Canonical form of a request host, or None when it is not a plain hostname or IP.

    Case-folded, one trailing dot stripped, IDNA-encoded, IPv6 brackets removed.
    Anything with an empty label, a port, userinfo or odd characters is None so
    it can never equal a route host.
    """
    if not host or len(host) > 255:
        return None
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    name = name.lower()
    labels = name.split(".")
    if any(not label or len(label) > 63 for label in labels):
        return None
    if not all(c.isalnum() or c in "-_" for label in labels for c in label):
        return None
    return name


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    with open(schema_path(SCHEMA_NAME), encoding="utf-8") as fh:
        schema = json.load(fh)
    return Draft202012Validator(schema)


def _where(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _problems(data: Any) -> list[str]:
    problems = []
    for error in _validator().iter_errors(data):
        where = _where(error.absolute_path)
        description = error.schema.get("description") if isinstance(error.schema, dict) else None
        if error.validator == "additionalProperties":
            allowed = ", ".join(sorted(error.schema.get("properties", {})))
            problems.append(f"{where}: {error.message}; valid keys: {allowed}")
        elif error.validator in ("not", "pattern") and description:
            problems.append(f"{where}: {error.instance!r} is not allowed here: {description}")
        else:
            problems.append(f"{where}: {error.message}")
    return sorted(problems)


def _route(raw: Mapping[str, Any]) -> Route:
    auth = None
    if "auth" in raw:
        a = raw["auth"]
        auth = Auth(
            scheme=a["scheme"],
            token_env=a["token_env"],
            placeholder=a.get("placeholder", DEFAULT_PLACEHOLDER),
            header=a.get("header"),
        )
    return Route(
        host=raw["host"],
        dlp=raw["dlp"],
        path_allowlist=tuple(raw["path_allowlist"]) if "path_allowlist" in raw else None,
        methods=frozenset(raw["methods"]) if "methods" in raw else None,
        auth=auth,
        allow_cidrs=tuple(ipaddress.ip_network(c, strict=False) for c in raw.get("allow_cidrs", ())),
    )


def load_routes(text: str, source: str = "routes.yaml") -> RouteTable:
    """Parse and validate a rendered routes file; raises RoutesError naming ``source`` and each key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RoutesError(f"{source}: not valid YAML: {exc}") from None
    problems = _problems(data)
    if not problems:
        seen: set[str] = set()
        for i, raw in enumerate(data["routes"]):
            if raw["host"] in seen:
                problems.append(f"routes[{i}].host: {raw['host']} is listed twice; merge the two routes")
            seen.add(raw["host"])
            for j, cidr in enumerate(raw.get("allow_cidrs", ())):
                try:
                    ipaddress.ip_network(cidr, strict=False)
                except ValueError as exc:
                    problems.append(f"routes[{i}].allow_cidrs[{j}]: {exc}")
    if problems:
        raise RoutesError(f"{source} is not a valid routes file:\n  " + "\n  ".join(problems))
    return RouteTable(tuple(_route(r) for r in data["routes"]))
