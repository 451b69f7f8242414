"""Where the egress code finds its JSON Schemas, installed or in a checkout."""
from __future__ import annotations

from pathlib import Path

__all__ = ["schema_path"]

_PACKAGE_SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
_REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def schema_path(name: str) -> Path:
    """Path of schema ``name``: package data first (sidecar image), then the repo's ``schemas/``."""
    for base in (_PACKAGE_SCHEMAS, _REPO_SCHEMAS):
        candidate = base / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"schema {name} not found in {_PACKAGE_SCHEMAS} or {_REPO_SCHEMAS}; "
        "reinstall claude-bottle so its schemas ship with the package"
    )
