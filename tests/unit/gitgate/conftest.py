"""Helpers for the git gate tests: plans with git remotes, scratch repositories, a loopback gate.

The gate here is the real daemon entry (``python -m bottle_tasks.gitgate.daemon``)
running ``git daemon`` on 127.0.0.1 with local upstream repositories; the
docker integration test runs the same code in a container against an sshd upstream.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bottle_tasks.egress.harness import stop_process
from bottle_tasks.plan import Capabilities, GitPlan, Plan, Resources

AUTHOR = {"GIT_AUTHOR_NAME": "Agent", "GIT_AUTHOR_EMAIL": "agent@bottle", "GIT_COMMITTER_NAME": "Agent",
          "GIT_COMMITTER_EMAIL": "agent@bottle"}


def aws_key_line(name: str = "aws_access_key_id") -> str:
    """A line holding an AWS-access-key-shaped value, built at runtime so the repo holds none."""
    return f'{name} = "{"AKIA" + "Z7Q4" * 4}"'


def make_plan(remotes=(), workspace=None, user=("Claude (bottled)", "claude@bottle"), token_refs=()) -> Plan:
    from bottle_tasks.plan import Auth, Route
    routes = tuple(Route(host=f"h{i}.example", auth=Auth(scheme="bearer", token_ref=t))
                   for i, t in enumerate(token_refs))
    return Plan(slug="dev", agent="dev", agent_file="/x/dev.md", description="", prompt="", model=None,
                claude_args=(), bottle="dev", bottle_files=("/x/b.md",), env=(), skills=(), routes=routes,
                git=GitPlan(user_name=user[0], user_email=user[1], remotes=tuple(remotes)),
                supervise_enabled=True, supervise_timeout=600, capabilities=Capabilities(),
                resources=Resources(), backend="docker", workspace=workspace)


def git(*args: str, cwd: Path | str | None = None, check: bool = True, env: dict | None = None,
        input: str | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, **AUTHOR, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    full.pop("GIT_CONFIG_GLOBAL", None)
    proc = subprocess.run(["git", *args], cwd=cwd, env=full, capture_output=True, text=True, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def commit_file(repo: Path, path: str, text: str, message: str = "change") -> str:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    git("add", path, cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def bare_upstream(path: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A bare repository with one commit on ``branch``."""
    git("init", "-q", "--bare", "-b", branch, str(path))
    seed = path.parent / f"{path.name}.seed"
    git("clone", "-q", str(path), str(seed))
    git("checkout", "-q", "-b", branch, cwd=seed)
    for name, text in (files or {"README.md": "hello\n"}).items():
        (seed / name).write_text(text)
        git("add", name, cwd=seed)
    git("commit", "-q", "-m", "initial", cwd=seed)
    git("push", "-q", "origin", branch, cwd=seed)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalGate:
    root: Path
    port: int
    config_path: Path
    log_file: Path
    proc: subprocess.Popen | None = None
    env: dict = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def events(self) -> list[dict]:
        if not self.log_file.exists():
            return []
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]

    def start(self, config: dict) -> "LocalGate":
        self.config_path.write_text(json.dumps(config))
        daemon_log = self.root / "daemon.log"
        with open(daemon_log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bottle_tasks.gitgate.daemon", "--config", str(self.config_path),
                 "--listen", "127.0.0.1", "--port", str(self.port)],
                env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gate exited: {daemon_log.read_text()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise AssertionError("gate did not listen within 20 s")

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)


@pytest.fixture
def local_gate(tmp_path):
    """Factory: ``local_gate(remotes, env={})`` starts a gate serving ``remotes`` (config dicts)."""
    gates = []

    def start(remotes: list[dict], env: dict | None = None, extra_env_names=(), **settings) -> LocalGate:
        root = tmp_path / f"gate{len(gates)}"
        root.mkdir()
        gate = LocalGate(root=root, port=free_port(), config_path=root / "git-gate.json",
                         log_file=root / "git-gate.jsonl", env=env or {})
        gates.append(gate)
        return gate.start({"version": 1, "git_dir": str(root / "git"), "log_file": str(gate.log_file),
                           "dlp_extra_secrets_env": list(extra_env_names), "remotes": remotes, **settings})

    yield start
    for gate in gates:
        gate.stop()
