"""Where the egress code finds its JSON Schemas, installed or in a checkout."""
from __future__ import annotations

from pathlib import Path

from ..paths import schemas_dir

__all__ = ["schema_path"]


def schema_path(name: str) -> Path:
    """Path of schema ``name`` in ``$CLAUDE_BOTTLE_SCHEMAS`` (set in the sidecars image) or the repo."""
    candidate = schemas_dir() / name
    if not candidate.is_file():
        raise FileNotFoundError(
            f"schema {name} not found in {schemas_dir()}; set CLAUDE_BOTTLE_SCHEMAS to the "
            "directory holding claude-bottle's schemas/"
        )
    return candidate
