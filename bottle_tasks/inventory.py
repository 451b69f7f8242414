"""What claude-bottle has on the Docker daemon, found by our labels only."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from . import labels, paths
from .dockerhost import client

__all__ = ["BottleState", "CleanupPlan", "bottles", "cleanup_plan", "remove"]


@dataclass
class BottleState:
    slug: str
    backend: str
    state: str  # running | stopped | partial
    services: dict[str, str] = field(default_factory=dict)
    containers: list = field(default_factory=list)


@dataclass
class CleanupPlan:
    containers: list = field(default_factory=list)
    networks: list = field(default_factory=list)
    volumes: list = field(default_factory=list)
    state_dirs: list = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.containers or self.networks or self.volumes or self.state_dirs)

    def describe(self) -> str:
        lines = [f"container: {c.name} ({c.status})" for c in self.containers]
        lines += [f"network:   {n.name}" for n in self.networks]
        lines += [f"volume:    {v.name}" for v in self.volumes]
        lines += [f"state dir: {d}" for d in self.state_dirs]
        return "\n".join(lines)


def bottles() -> list[BottleState]:
    by_slug: dict[str, BottleState] = {}
    for c in client().containers.list(all=True, filters=labels.managed_filter()):
        slug = c.labels.get(labels.SLUG)
        if not slug:
            continue
        b = by_slug.setdefault(slug, BottleState(slug, c.labels.get(labels.BACKEND, "docker"), "partial"))
        role = c.labels.get(labels.ROLE) or c.labels.get("com.docker.compose.service") or c.name
        b.services[role] = c.status
        b.containers.append(c)
    for b in by_slug.values():
        agent = b.services.get("agent")
        b.state = "partial" if agent is None else ("running" if agent == "running" else "stopped")
    return sorted(by_slug.values(), key=lambda b: b.slug)


def cleanup_plan(include_stopped: bool = False) -> CleanupPlan:
    plan = CleanupPlan()
    keep: set[str] = set()
    for b in bottles():
        orphan = b.state == "partial" or not paths.state_dir(b.slug).exists()
        if orphan or (include_stopped and b.state != "running"):
            plan.containers.extend(b.containers)
            if include_stopped and paths.state_dir(b.slug).exists():
                plan.state_dirs.append(paths.state_dir(b.slug))
        else:
            keep.add(b.slug)
    docker = client()
    for n in docker.networks.list(filters=labels.managed_filter()):
        if n.attrs.get("Labels", {}).get(labels.SLUG) not in keep:
            plan.networks.append(n)
    for v in docker.volumes.list(filters=labels.managed_filter()):
        if (v.attrs.get("Labels") or {}).get(labels.SLUG) not in keep:
            plan.volumes.append(v)
    return plan


def remove(plan: CleanupPlan) -> None:
    for c in plan.containers:
        c.remove(force=True, v=True)
        print(f"removed container {c.name}")
    for n in plan.networks:
        n.remove()
        print(f"removed network {n.name}")
    for v in plan.volumes:
        v.remove(force=True)
        print(f"removed volume {v.name}")
    for d in plan.state_dirs:
        shutil.rmtree(d, ignore_errors=True)
        print(f"removed state dir {d}")
