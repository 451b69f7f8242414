"""The supervise file formats, validated against the JSON Schemas in ``schemas/``.

``proposal.schema.json`` holds the shared definitions (route, capabilities);
``decision.schema.json`` and ``overlay.schema.json`` refer into it, so every
validator here resolves references from a local registry and never fetches.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from ..schema import load_schema

__all__ = ["PROPOSAL", "DECISION", "OVERLAY", "CONFIG", "problems", "where"]

PROPOSAL = "proposal.schema.json"
DECISION = "decision.schema.json"
OVERLAY = "overlay.schema.json"
CONFIG = "supervise-config.schema.json"
_ALL = (PROPOSAL, DECISION, OVERLAY, CONFIG)


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resources = []
    for name in _ALL:
        schema = load_schema(name)
        resource = Resource.from_contents(schema)
        resources += [(name, resource), (schema["$id"], resource)]
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def _validator(name: str, pointer: str) -> Draft202012Validator:
    schema = load_schema(name)
    if pointer:
        # A sub-schema keeps its home's $id so its own "#/$defs/..." refs still resolve.
        schema = {"$id": schema["$id"], "$defs": schema.get("$defs", {}),
                  **_resolve_pointer(schema, pointer)}
    return Draft202012Validator(schema, registry=_registry())


def _resolve_pointer(schema: dict[str, Any], pointer: str) -> dict[str, Any]:
    node: Any = schema
    for part in pointer.strip("/").split("/"):
        node = node[part]
    return node


def where(parts: Iterable[Any], rename: dict[str, str] | None = None) -> str:
    """``routes[2].host`` from a JSON path, with keys optionally renamed for the reader."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = (rename or {}).get(part, part)
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def problems(instance: Any, name: str, pointer: str = "", rename: dict[str, str] | None = None) -> list[str]:
    """Every problem with ``instance`` against schema ``name`` (optionally the sub-schema at ``pointer``).

    Each names the key path and, for a pattern, the schema's own description
    of what is expected, so the message says how to fix it.
    """
    out = []
    for error in _validator(name, pointer).iter_errors(instance):
        at = where(error.absolute_path, rename)
        description = error.schema.get("description") if isinstance(error.schema, dict) else None
        if error.validator in ("pattern", "not") and description:
            out.append(f"{at}: {error.instance!r} is not allowed: expected {description}")
        elif error.validator == "additionalProperties":
            allowed = ", ".join(sorted(error.schema.get("properties", {})))
            extras = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            out.append(f"{at}: unknown key(s) {', '.join(extras)}; valid keys: {allowed}")
        elif error.validator == "oneOf" and error.context:
            out.extend(f"{at}: {sub.message}" for sub in error.context
                       if sub.validator == "required")
        else:
            out.append(f"{at}: {error.message}")
    return sorted(set(out))
