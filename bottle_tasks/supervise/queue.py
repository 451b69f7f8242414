"""The proposal queue: one directory per slug, shared by the sidecar and the host.

    queue/<id>.proposal.json   written by the supervise MCP server (user bottle, in the sidecar)
    queue/<id>.decision.json   written by `doit approve` / `doit deny` (the operator, on the host)

The host directory ``state/<slug>/queue`` is bind-mounted at
``/var/lib/claude-bottle/queue``. Every file is written to a temp name,
fsynced and renamed (readers see a whole file or none) and made 0644 so the
other side can read it whatever its uid. A proposal without a decision is
pending; both files stay afterwards, and the host's audit log is the history.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import BottleError
from ..fsutil import atomic_write, read_json
from .proposals import validate_decision, validate_proposal

__all__ = ["Queue", "QueueError", "PROPOSAL_SUFFIX", "DECISION_SUFFIX"]

PROPOSAL_SUFFIX = ".proposal.json"
DECISION_SUFFIX = ".decision.json"


class QueueError(BottleError):
    """A queue file that cannot be read or does not match its schema."""


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Queue:
    root: Path

    def proposal_path(self, proposal_id: str) -> Path:
        return self.root / f"{proposal_id}{PROPOSAL_SUFFIX}"

    def decision_path(self, proposal_id: str) -> Path:
        return self.root / f"{proposal_id}{DECISION_SUFFIX}"

    def new_id(self) -> str:
        while True:
            candidate = secrets.token_hex(4)
            if not self.proposal_path(candidate).exists():
                return candidate

    def _read(self, path: Path, validate) -> dict[str, Any] | None:
        data = read_json(path, "the queue file", QueueError, missing=None, hint="remove it or write it again")
        if data is None:
            return None
        found = validate(data)
        if found:
            raise QueueError(f"{path} is not a valid queue file:\n" + "\n".join(f"  - {p}" for p in found))
        return data

    def _write(self, path: Path, data: dict[str, Any], validate, what: str) -> Path:
        found = validate(data)
        if found:
            raise QueueError(f"refusing to write an invalid {what}: " + "; ".join(found))
        atomic_write(path, _dump(data), 0o644)
        return path

    def write_proposal(self, proposal: dict[str, Any]) -> Path:
        return self._write(self.proposal_path(proposal["id"]), proposal, validate_proposal, "proposal")

    def write_decision(self, decision: dict[str, Any]) -> Path:
        return self._write(self.decision_path(decision["id"]), decision, validate_decision, "decision")

    def proposal(self, proposal_id: str) -> dict[str, Any] | None:
        data = self._read(self.proposal_path(proposal_id), validate_proposal)
        if data is not None and data["id"] != proposal_id:
            raise QueueError(f"{self.proposal_path(proposal_id)} holds proposal {data['id']}, not {proposal_id}")
        return data

    def decision(self, proposal_id: str) -> dict[str, Any] | None:
        data = self._read(self.decision_path(proposal_id), validate_decision)
        if data is not None and data["id"] != proposal_id:
            raise QueueError(f"{self.decision_path(proposal_id)} answers {data['id']}, not {proposal_id}")
        return data

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        # Dot-prefixed names are atomic_write's temp files: never half a record.
        return sorted(p.name[: -len(PROPOSAL_SUFFIX)] for p in self.root.glob(f"*{PROPOSAL_SUFFIX}")
                      if not p.name.startswith("."))

    def pending(self, errors: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Valid proposals without a decision, oldest first.

        With ``errors``, an unreadable proposal is reported there and skipped,
        so one bad file does not hide the rest of the queue.
        """
        found = []
        for proposal_id in self.ids():
            if self.decision_path(proposal_id).exists():
                continue
            try:
                proposal = self.proposal(proposal_id)
            except QueueError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))
                continue
            if proposal is not None:
                found.append(proposal)
        return iter(sorted(found, key=lambda p: (p["created_at"], p["id"])))
