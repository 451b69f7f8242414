"""The `bottle` console script: the same graph as doit in the repo, from any directory."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bottle_tasks.cli import translate


def test_translate_stage_agent_and_plan_options():
    assert translate(["start", "researcher", "--yes", "--cwd", "/src/x"]) == \
        ["start:researcher", "--yes", "cwd=/src/x"]
    assert translate(["list", "--all"]) == ["list", "--all"]
    assert translate(["plan:researcher", "--backend=docker"]) == ["plan:researcher", "backend=docker"]
    assert translate(["approve", "--id", "abc"]) == ["approve", "--id", "abc"]


def test_bottle_runs_the_graph_from_another_directory(bottle_home, tmp_path):
    bottle = Path(sys.executable).parent / "bottle"
    env = {**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": "x"}
    listed = subprocess.run([str(bottle), "list", "--all"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "start:researcher" in listed.stdout
    planned = subprocess.run([str(bottle), "plan", "researcher"], cwd=tmp_path, env=env, capture_output=True,
                             text=True)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "api.anthropic.com [auth:bearer]" in planned.stdout
    assert (bottle_home / "state/researcher/plan.json").exists()
