"""Which OCI runtime the agent container gets: gVisor when it really works here, else runc.

A runtime being registered with the daemon is not enough: Debian's 2022 runsc
is registered yet fails with "cannot run with network enabled in root network
namespace". So a trial container has to start under it. The verdict is cached
per daemon in the state home.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from . import labels, paths
from .dockerhost import client
from .fsutil import atomic_write

__all__ = ["RuntimeChoice", "choose_runtime"]


@dataclass(frozen=True)
class RuntimeChoice:
    runtime: str
    reason: str


def _cache_path():
    return paths.state_home() / "runtime.json"


def choose_runtime(trial_image: str | None) -> RuntimeChoice:
    docker = client()
    info = docker.info()
    if "runsc" not in (info.get("Runtimes") or {}):
        return RuntimeChoice("runc", "gVisor (runsc) is not registered with the Docker daemon")
    key = f"{info.get('ID')}:{json.dumps(info['Runtimes']['runsc'], sort_keys=True)}"
    cache = _cache_path()
    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return RuntimeChoice(cached["runtime"], cached["reason"])
    if not trial_image:
        return RuntimeChoice("runc", "runsc is registered; it is tried once the agent image exists")
    try:
        docker.containers.run(trial_image, ["true"], runtime="runsc", remove=True,
                              labels=labels.managed_labels(role="runtime-trial"))
        choice = RuntimeChoice("runsc", "gVisor (runsc) registered and a trial container ran")
    except Exception as exc:  # the daemon reports runtime failures as several error types
        first = str(exc).strip().splitlines()[0][:200]
        choice = RuntimeChoice("runc", f"runsc is registered but a trial container failed: {first}")
    atomic_write(cache, json.dumps({"key": key, **choice.__dict__}))
    return choice
