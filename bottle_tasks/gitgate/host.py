"""Host-side files of the git gate: its rendered config, known_hosts, and the outbox repositories.

Pushes to a local remote (the ``--cwd`` workspace) land in a bare repository
``state/<slug>/outbox/<name>.git`` that is bind-mounted writable into the
sidecars; the operator fetches the agent's branches from it:

    git fetch ~/.claude-bottle/state/<slug>/outbox/workspace.git '+refs/heads/*:refs/remotes/bottle-<slug>/*'

The outbox is created group- and world-writable (``core.sharedRepository=0777``)
because the gate writes it as the sidecars' ``bottle`` user, whose uid is not
the host user's; ``state/<slug>/outbox/`` itself is 0700 so no other host user
can reach it.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..fsutil import write_in_place
from ..plan import Plan
from .config import WORKSPACE_REMOTE, plan_remotes, gate_files, is_local, outbox_host_path

__all__ = ["prepare", "ensure_outbox", "operator_fetch_command"]


def ensure_outbox(path: Path) -> Path:
    """A bare repository at ``path`` that a different uid may push into (idempotent)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    if not (path / "objects").is_dir():
        subprocess.run(["git", "init", "--quiet", "--bare", "--shared=0777", str(path)], check=True,
                       capture_output=True)
    # `--shared` also turns on receive.denyNonFastForwards; the gate leases every ref itself.
    subprocess.run(["git", "--git-dir", str(path), "config", "receive.denyNonFastForwards", "false"],
                   check=True, capture_output=True)
    return path


def prepare(plan: Plan, state: Path | None = None, ca_file: str | None = None) -> list[Path]:
    """Write the gate's rendered files under ``state/rendered/`` and create outboxes; return what was written.

    Files are rewritten in place (same inode) because they are single-file bind mounts.
    """
    if state is None:
        from ..paths import state_dir
        state = state_dir(plan.slug)
    state = Path(state)
    written = []
    for rel, content in gate_files(plan, ca_file).items():
        target = state / "rendered" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        write_in_place(target, content, 0o644)
        written.append(target)
    for remote in plan_remotes(plan):
        if is_local(remote.upstream):
            written.append(ensure_outbox(outbox_host_path(state, remote.name)))
    return written


def operator_fetch_command(plan: Plan, state: Path | None = None, remote: str = WORKSPACE_REMOTE) -> list[str]:
    """What the operator runs in their repository to fetch the agent's pushes to local remote ``remote``."""
    if state is None:
        from ..paths import state_dir
        state = state_dir(plan.slug)
    return ["git", "fetch", str(outbox_host_path(Path(state), remote)),
            f"+refs/heads/*:refs/remotes/bottle-{plan.slug}/*"]
