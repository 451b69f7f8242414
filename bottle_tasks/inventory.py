"""What claude-bottle has on this machine for this home, found by our labels only.

Both backends are walked in one pass: docker containers, networks and volumes
(the docker backend's bottles, the smolmachines bundles and pipeline
registries) and smolvm machines (``smolvm machine ls --json``). A slug is
live when its agent runs, whichever backend runs it, and cleanup never
touches anything of a live slug. When smolvm is not on PATH, smolmachines
objects cannot be judged and are left alone.
"""
from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import cachegc, labels, paths
from .cachegc import StaleImage
from .dockerhost import client
from .locks import slug_busy

__all__ = ["BottleState", "CleanupPlan", "bottles", "cleanup_plan", "remove"]


@dataclass
class BottleState:
    slug: str
    backend: str
    state: str  # running | stopped | partial
    started_at: dt.datetime | None = None
    services: dict[str, str] = field(default_factory=dict)
    containers: list = field(default_factory=list)
    machines: list = field(default_factory=list)

    def uptime(self, now: dt.datetime | None = None) -> str:
        if self.state != "running" or self.started_at is None:
            return "-"
        secs = int(((now or dt.datetime.now(dt.timezone.utc)) - self.started_at).total_seconds())
        h, rem = divmod(max(secs, 0), 3600)
        return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"


@dataclass
class CleanupPlan:
    containers: list = field(default_factory=list)
    networks: list = field(default_factory=list)
    volumes: list = field(default_factory=list)
    state_dirs: list[Path] = field(default_factory=list)
    machines: list = field(default_factory=list)
    images: list[StaleImage] = field(default_factory=list)
    store_files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.containers or self.networks or self.volumes or self.state_dirs or self.machines
                    or self.images or self.store_files)

    def describe(self) -> str:
        lines = [f"machine    {m.name} ({m.state}, smolvm)" for m in self.machines]
        lines += [f"container  {c.name} ({c.status})" for c in self.containers]
        lines += [f"network    {n.name}" for n in self.networks]
        lines += [f"volume     {v.name}" for v in self.volumes]
        lines += [f"state dir  {d}" for d in self.state_dirs]
        lines += [f"image      {i.tag} (superseded)" for i in self.images]
        lines += [f"store      {f.name} ({_mib(f)} MiB, "
                  f"{'left by a killed write' if f.name.startswith('.') else 'superseded'})"
                  for f in self.store_files]
        return "\n".join(lines)


def _mib(path: Path) -> int:
    try:
        return path.stat().st_size >> 20
    except OSError:
        return 0


def _started(container) -> dt.datetime | None:
    raw = container.attrs.get("State", {}).get("StartedAt", "")
    try:
        return dt.datetime.fromisoformat(raw[:26].rstrip("Z") + "+00:00") if raw else None
    except ValueError:
        return None


def _machines() -> list | None:
    """This home's smolvm machines, or None when smolvm is not here to ask."""
    from .backends import smolmachines
    if not smolmachines.smolvm_on_path():
        return None
    return smolmachines.machines_of_home()


def bottles(machines: list | None = None) -> list[BottleState]:
    by_slug: dict[str, BottleState] = {}
    for c in client().containers.list(all=True, filters=labels.managed_filter()):
        slug = c.labels.get(labels.SLUG)
        role = c.labels.get(labels.ROLE)
        if not slug or role not in ("agent", "sidecars"):
            continue
        b = by_slug.setdefault(slug, BottleState(slug, c.labels.get(labels.BACKEND, "docker"), "partial"))
        b.services[role] = c.status
        b.containers.append(c)
        if role == "agent":
            b.started_at = _started(c)
    for m in (_machines() if machines is None else machines) or []:
        slug = m.labels.get(labels.SLUG)
        if not slug:
            continue
        b = by_slug.setdefault(slug, BottleState(slug, "smolmachines", "partial"))
        b.backend = "smolmachines"
        b.services["agent"] = m.state
        b.machines.append(m)
    for b in by_slug.values():
        agent = b.services.get("agent")
        b.state = "partial" if agent is None else ("running" if agent == "running" else "stopped")
    return sorted(by_slug.values(), key=lambda b: b.slug)


def cleanup_plan(images: bool = False) -> CleanupPlan:
    """Everything orphaned in this home; a running bottle and anything it uses is never included.

    Superseded store files of this cache are always included; superseded images
    only with ``images`` (a rebuild costs minutes), else they are counted in a note.
    """
    plan = CleanupPlan()
    plan.store_files = cachegc.stale_store_files()
    stale = cachegc.stale_images()
    if images:
        plan.images = stale
    elif stale:
        plan.notes.append(f"{len(stale)} superseded image(s) kept: `doit cleanup --images` removes them too")
    live: set[str] = set()
    machines = _machines()
    docker = client()
    if machines is None:
        # Without smolvm nobody can tell whether a smolmachines bottle's VM still runs.
        flt = {"label": [*labels.managed_filter()["label"], f"{labels.BACKEND}=smolmachines"]}
        unknown = {c.labels.get(labels.SLUG) for c in docker.containers.list(all=True, filters=flt)}
        unknown |= {(n.attrs.get("Labels") or {}).get(labels.SLUG) for n in docker.networks.list(filters=flt)}
        unknown.discard(None)
        live |= unknown
        if unknown:
            plan.notes.append("smolvm is not on PATH: the smolmachines bottles "
                              f"{', '.join(sorted(unknown))} are left alone")
    # A slug another run is working on (up, provision, stop...) is not an orphan, whatever it looks like.
    state_root = paths.state_home() / "state"
    if state_root.is_dir():
        live |= {d.name for d in state_root.iterdir() if d.is_dir() and slug_busy(d.name)}
    for b in bottles(machines or []):
        if b.state == "running" or b.slug in live:
            live.add(b.slug)
        else:
            plan.containers.extend(b.containers)
            plan.machines.extend(b.machines)
    listed = {c.id for c in plan.containers}
    for c in docker.containers.list(all=True, filters=labels.managed_filter()):
        if c.labels.get(labels.SLUG) not in live and c.id not in listed and not labels.owner_alive(c.labels):
            plan.containers.append(c)
    for n in docker.networks.list(filters=labels.managed_filter()):
        net_labels = n.attrs.get("Labels") or {}
        if net_labels.get(labels.SLUG) not in live and not labels.owner_alive(net_labels):
            plan.networks.append(n)
    doomed_slugs: set[str] = set()
    if state_root.is_dir():
        for d in sorted(p for p in state_root.iterdir() if p.is_dir()):
            if d.name not in live and not (d / ".preserve").exists():
                plan.state_dirs.append(d)
                doomed_slugs.add(d.name)
    for v in docker.volumes.list(filters=labels.managed_filter()):
        slug = (v.attrs.get("Labels") or {}).get(labels.SLUG)
        if slug not in live and (slug in doomed_slugs or not (state_root / str(slug)).is_dir()):
            plan.volumes.append(v)
    return plan


def remove(plan: CleanupPlan) -> None:
    import docker.errors

    from .backends import smolvm
    for m in plan.machines:
        smolvm.run(smolvm.machine_delete_argv(m.name), f"delete the machine {m.name}")
        print(f"removed smolvm machine {m.name}")
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
    for image in plan.images:
        try:
            client().images.remove(image.tag)
        except docker.errors.ImageNotFound:
            continue
        except docker.errors.APIError as exc:  # a container or a child image appeared meanwhile
            print(f"kept image {image.tag}: {exc.explanation or exc}")
            continue
        print(f"removed image {image.tag}")
    for f in plan.store_files:
        f.unlink(missing_ok=True)
        print(f"removed store file {f.name}")
