"""JSON Schema validation with errors a person can act on.

Each problem names the key path (``egress.routes[2].host``), what was
expected, and for an unknown key the closest valid one.
"""
from __future__ import annotations

import difflib
import json
from functools import lru_cache
from typing import Any, Iterable

from .paths import schemas_dir

__all__ = ["load_schema", "validate", "key_path"]


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    from jsonschema import Draft202012Validator

    with open(schemas_dir() / name, encoding="utf-8") as fh:
        schema = json.load(fh)
    Draft202012Validator.check_schema(schema)
    return schema


def key_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _did_you_mean(unknown: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(unknown, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean: {close[0]}?)" if close else ""


def _describe(error) -> list[str]:
    where = key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in error.schema.get("properties", {})]
        return [
            f"{key_path([*error.absolute_path, key])}: unknown key '{key}'{_did_you_mean(key, allowed)}; "
            f"valid keys here: {', '.join(allowed)}"
            for key in extras
        ]
    if error.validator == "required":
        return [f"{where}: {error.message.replace(' is a required property', '')} is required but missing"]
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return [f"{where}: expected {expected}, got {type(error.instance).__name__} {error.instance!r}"]
    if error.validator == "enum":
        options = ", ".join(map(str, error.validator_value))
        hint = _did_you_mean(str(error.instance), map(str, error.validator_value))
        return [f"{where}: {error.instance!r} is not one of: {options}{hint}"]
    if error.validator in ("oneOf", "anyOf") and error.context:
        best = min(error.context, key=lambda e: len(list(e.absolute_path)) * -1)
        return _describe(best)
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    hint = f" ({description})" if description else ""
    return [f"{where}: {error.message}{hint}"]


def validate(instance: Any, schema_name: str) -> list[str]:
    """Return every problem with ``instance`` against ``schema_name``, sorted by key path."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(load_schema(schema_name))
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    problems: list[str] = []
    for error in errors:
        problems.extend(_describe(error))
    return problems
