"""One bottle instance (a slug) on the host: its state files and its containers."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import labels, paths
from .errors import BottleError
from .fsutil import atomic_write
from .plan import Plan, plan_from_json

__all__ = ["Instance"]


@dataclass(frozen=True)
class Instance:
    slug: str

    @property
    def dir(self) -> Path:
        return paths.state_dir(self.slug)

    @property
    def project(self) -> str:
        return f"claude-bottle-{self.slug}"

    @property
    def plan_file(self) -> Path:
        return self.dir / "plan.json"

    @property
    def rendered(self) -> Path:
        return self.dir / "rendered"

    @property
    def compose_file(self) -> Path:
        return self.rendered / "docker-compose.yml"

    @property
    def ca(self) -> Path:
        return self.dir / "ca"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    @property
    def queue(self) -> Path:
        return self.dir / "queue"

    @property
    def preserve_marker(self) -> Path:
        return self.dir / ".preserve"

    def plan(self) -> Plan:
        try:
            return plan_from_json(self.plan_file.read_text())
        except FileNotFoundError:
            raise BottleError(f"{self.slug} has no plan yet ({self.plan_file}); run `doit plan:{self.slug}`") from None

    def read_record(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.dir / name).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def write_record(self, name: str, data: dict[str, Any]) -> None:
        atomic_write(self.dir / name, json.dumps(data, indent=2, sort_keys=True) + "\n", 0o600)

    def drop_record(self, name: str) -> None:
        (self.dir / name).unlink(missing_ok=True)

    def containers(self) -> dict[str, Any]:
        """Role (``agent``/``sidecars``) -> container, from our labels."""
        from .dockerhost import client
        found = client().containers.list(all=True, filters=labels.managed_filter(self.slug))
        return {c.labels.get(labels.ROLE): c for c in found if c.labels.get(labels.ROLE)}

    def running(self, role: str) -> Any:
        c = self.containers().get(role)
        if c is None or c.status != "running":
            raise BottleError(f"the {role} container of {self.slug} is not running; run `doit up:{self.slug}`")
        return c
