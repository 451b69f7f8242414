"""Shared test fixtures: an isolated claude-bottle home and a doit runner."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def bottle_home(tmp_path, monkeypatch):
    """A scratch $CLAUDE_BOTTLE_HOME and $CLAUDE_BOTTLE_CACHE, with no host token set."""
    home = tmp_path / "home"
    cache = tmp_path / "cache"
    home.mkdir()
    cache.mkdir()
    monkeypatch.setenv("CLAUDE_BOTTLE_HOME", str(home))
    monkeypatch.setenv("CLAUDE_BOTTLE_CACHE", str(cache))
    monkeypatch.delenv("CLAUDE_CODE_OAUTH_TOKEN", raising=False)
    monkeypatch.delenv("CLAUDE_BOTTLE_BACKEND", raising=False)
    monkeypatch.delenv("CLAUDE_BOTTLE_CWD", raising=False)
    return home


def run_doit(*args: str, cwd: Path = REPO, env: dict | None = None, timeout: float = 1800,
             input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m doit`` in the repository (a real process, as a user would)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "doit", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)


@pytest.fixture
def doit():
    return run_doit
