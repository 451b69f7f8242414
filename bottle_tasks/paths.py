"""Where claude-bottle keeps things on the host.

Every location can be moved by an environment variable so tests and CI can
point the whole tool at a scratch directory.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = [
    "repo_root", "schemas_dir", "images_dir", "examples_dir", "state_home",
    "state_dir", "cache_home", "store_dir", "doit_db_path", "validate_slug",
]

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def schemas_dir() -> Path:
    return Path(os.environ.get("CLAUDE_BOTTLE_SCHEMAS") or repo_root() / "schemas")


def images_dir() -> Path:
    """``$CLAUDE_BOTTLE_IMAGES`` or the repo's ``images/``: one build context per image name."""
    return Path(os.environ.get("CLAUDE_BOTTLE_IMAGES") or repo_root() / "images")


def examples_dir() -> Path:
    return repo_root() / "examples"


def state_home() -> Path:
    """``$CLAUDE_BOTTLE_HOME`` (default ``~/.claude-bottle``): user manifests and state."""
    return Path(os.environ.get("CLAUDE_BOTTLE_HOME") or Path.home() / ".claude-bottle")


def validate_slug(slug: str) -> str:
    if not _SLUG_RE.match(slug):
        from .errors import BottleError
        raise BottleError(
            f"'{slug}' cannot name a bottle instance: use lowercase letters, digits "
            "and '-', starting with a letter or digit (it becomes a compose project name)."
        )
    return slug


def state_dir(slug: str) -> Path:
    return state_home() / "state" / validate_slug(slug)


def cache_home() -> Path:
    """``$CLAUDE_BOTTLE_CACHE`` (default ``~/.cache/claude-bottle``): content-addressed artifacts."""
    return Path(os.environ.get("CLAUDE_BOTTLE_CACHE") or Path.home() / ".cache" / "claude-bottle")


def store_dir() -> Path:
    return cache_home() / "store"


def doit_db_path() -> Path:
    return state_home() / "doit-deps.sqlite3"
