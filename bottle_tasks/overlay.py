"""The bottle overlay: what the operator approved through supervise, kept per slug.

    state/<slug>/overlay.json   {"version": 1,
                                 "egress": {"routes": [{"host", "path_allowlist"?, "methods"?}]},
                                 "capabilities": {"apt": [...], "npm": [...], "dockerfile": [...]}}

:func:`merge_overlay` lays it over the resolved bottle manifest before
planning, so every later plan (and the routes rendered from it) includes the
approved routes and software. It is pure and follows three rules:

- a route for a new host is appended;
- a route for a host the bottle already has widens it: the union of path
  prefixes and of methods ("absent" means any, and any absorbs the rest);
- auth is never added or changed: overlay routes cannot carry it (the schema
  refuses it, and the merge copies only host, paths and methods).

Capabilities are unions, keeping the bottle's order first.
"""
from __future__ import annotations

import copy
import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from . import paths
from .errors import BottleError
from .fsutil import atomic_write, read_json
from .hostnames import normalise_host

__all__ = [
    "merge_overlay", "merge_route", "add_route", "add_capabilities", "empty_overlay",
    "overlay_path", "load_overlay", "save_overlay", "overlay_problems", "overlay_lock", "OverlayError",
]

_ROUTE_KEYS = ("host", "path_allowlist", "methods")
_CAPABILITY_KEYS = ("apt", "npm", "dockerfile")


class OverlayError(BottleError):
    """An overlay file that cannot be used as written."""


def empty_overlay() -> dict[str, Any]:
    return {"version": 1}


def _union(first: list[str] | None, second: list[str] | None) -> list[str] | None:
    """Union of two allowlists where None means 'anything'."""
    if first is None or second is None:
        return None
    return list(dict.fromkeys([*first, *second]))


def merge_route(existing: Mapping[str, Any] | None, addition: Mapping[str, Any]) -> dict[str, Any]:
    """``existing`` (a bottle route, auth and all) widened by ``addition`` (host, paths, methods only)."""
    if existing is None:
        return {k: copy.deepcopy(addition[k]) for k in _ROUTE_KEYS if addition.get(k) is not None}
    merged = copy.deepcopy(dict(existing))
    for key in ("path_allowlist", "methods"):
        if key == "methods":
            mine = [m.upper() for m in existing[key]] if existing.get(key) else None
            theirs = [m.upper() for m in addition[key]] if addition.get(key) else None
        else:
            mine, theirs = existing.get(key) or None, addition.get(key) or None
        union = _union(mine, theirs)
        if union is None:
            merged.pop(key, None)
        else:
            merged[key] = union
    return merged


def merge_overlay(bottle_meta: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """The bottle manifest (front matter, ``extends`` resolved) with the overlay applied; inputs are untouched."""
    meta = copy.deepcopy(dict(bottle_meta))
    additions = (overlay.get("egress") or {}).get("routes") or []
    if additions:
        egress = dict(meta.get("egress") or {})
        routes = [dict(r) for r in egress.get("routes") or []]
        index = {normalise_host(r["host"]): i for i, r in enumerate(routes)}
        for addition in additions:
            host = normalise_host(addition["host"])
            if host in index:
                routes[index[host]] = merge_route(routes[index[host]], addition)
            else:
                index[host] = len(routes)
                routes.append(merge_route(None, {**addition, "host": host}))
        egress["routes"] = routes
        meta["egress"] = egress
    caps_add = overlay.get("capabilities") or {}
    if any(caps_add.get(k) for k in _CAPABILITY_KEYS):
        caps = dict(meta.get("capabilities") or {})
        for key in _CAPABILITY_KEYS:
            if caps_add.get(key):
                caps[key] = list(dict.fromkeys([*(caps.get(key) or []), *caps_add[key]]))
        meta["capabilities"] = caps
    return meta


def add_route(overlay: Mapping[str, Any], route: Mapping[str, Any]) -> dict[str, Any]:
    """A new overlay with ``route`` recorded (merged into the overlay's own route for that host, if any)."""
    merged = merge_overlay({"egress": {"routes": (overlay.get("egress") or {}).get("routes") or []}},
                           {"egress": {"routes": [route]}})
    out = copy.deepcopy(dict(overlay))
    out["egress"] = {"routes": merged["egress"]["routes"]}
    return out


def add_capabilities(overlay: Mapping[str, Any], capabilities: Mapping[str, Any]) -> dict[str, Any]:
    merged = merge_overlay({"capabilities": overlay.get("capabilities") or {}}, {"capabilities": capabilities})
    out = copy.deepcopy(dict(overlay))
    out["capabilities"] = merged["capabilities"]
    return out


def overlay_problems(data: Any) -> list[str]:
    from .supervise.formats import OVERLAY, problems
    return problems(data, OVERLAY)


def overlay_path(slug: str) -> Path:
    return paths.state_dir(slug) / "overlay.json"


def load_overlay(slug: str) -> dict[str, Any]:
    """The slug's overlay, or an empty one when nothing was approved yet."""
    path = overlay_path(slug)
    data = read_json(path, "the overlay", OverlayError, missing=None,
                     hint="fix it, or remove it to drop every approved change")
    if data is None:
        return empty_overlay()
    found = overlay_problems(data)
    if found:
        raise OverlayError(f"{path} is not a valid overlay:\n" + "\n".join(f"  - {p}" for p in found))
    return data


def save_overlay(slug: str, overlay: Mapping[str, Any]) -> Path:
    found = overlay_problems(overlay)
    if found:
        raise OverlayError("refusing to write an invalid overlay: " + "; ".join(found))
    path = overlay_path(slug)
    atomic_write(path, json.dumps(overlay, indent=2, sort_keys=True) + "\n", 0o644)
    return path


@contextmanager
def overlay_lock(slug: str) -> Iterator[None]:
    """Serialise read-modify-write-apply of one slug's overlay across processes.

    A separate lock from the slug's run lock: ``start`` holds that one while
    attached, and approving must work during exactly that time.
    """
    path = paths.state_dir(slug) / ".overlay.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
