"""Labels on everything claude-bottle creates, so listing and cleanup never touch anything else."""
from __future__ import annotations

import hashlib

__all__ = ["MANAGED", "SLUG", "BACKEND", "ROLE", "HOME", "DIGEST", "OWNER_PID", "managed_labels",
           "managed_filter", "home_id", "owner_alive"]

PREFIX = "dev.claude-bottle"
MANAGED = f"{PREFIX}.managed"
SLUG = f"{PREFIX}.slug"
BACKEND = f"{PREFIX}.backend"
ROLE = f"{PREFIX}.role"
DIGEST = f"{PREFIX}.digest"  # full input digest of an image we built
# Which $CLAUDE_BOTTLE_HOME an object belongs to: listing and cleanup only ever
# see their own home's objects, so a scratch home (tests, CI) cannot reap a user's bottles.
HOME = f"{PREFIX}.home"
# The pid of the process that owns a short-lived object (a pipeline's registry):
# while it lives, cleanup leaves the object alone.
OWNER_PID = f"{PREFIX}.owner-pid"


def home_id() -> str:
    from .paths import state_home
    return hashlib.sha256(str(state_home().resolve()).encode()).hexdigest()[:16]


def managed_labels(slug: str | None = None, backend: str = "docker", role: str | None = None,
                   **extra: str) -> dict[str, str]:
    labels = {MANAGED: "true", BACKEND: backend, HOME: home_id()}
    if slug:
        labels[SLUG] = slug
    if role:
        labels[ROLE] = role
    labels.update(extra)
    return labels


def managed_filter(slug: str | None = None) -> dict[str, list[str]]:
    """A docker SDK ``filters`` dict selecting our objects of this home (and one slug, if given)."""
    wanted = [f"{MANAGED}=true", f"{HOME}={home_id()}"]
    if slug:
        wanted.append(f"{SLUG}={slug}")
    return {"label": wanted}


def owner_alive(object_labels: dict[str, str]) -> bool:
    """Whether the process named by ``OWNER_PID`` still runs on this machine."""
    import os
    pid = object_labels.get(OWNER_PID, "")
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
