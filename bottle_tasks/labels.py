"""Labels on everything claude-bottle creates, so listing and cleanup never touch anything else."""
from __future__ import annotations

__all__ = ["MANAGED", "SLUG", "BACKEND", "ROLE", "RENDER_DIGEST", "managed_labels", "managed_filter"]

PREFIX = "dev.claude-bottle"
MANAGED = f"{PREFIX}.managed"
SLUG = f"{PREFIX}.slug"
BACKEND = f"{PREFIX}.backend"
ROLE = f"{PREFIX}.role"
RENDER_DIGEST = f"{PREFIX}.render-digest"


def managed_labels(slug: str | None = None, backend: str = "docker", role: str | None = None,
                   **extra: str) -> dict[str, str]:
    labels = {MANAGED: "true", BACKEND: backend}
    if slug:
        labels[SLUG] = slug
    if role:
        labels[ROLE] = role
    labels.update(extra)
    return labels


def managed_filter(slug: str | None = None) -> dict[str, list[str]]:
    """A docker SDK ``filters`` dict selecting our objects (of one slug, if given)."""
    wanted = [f"{MANAGED}=true"]
    if slug:
        wanted.append(f"{SLUG}={slug}")
    return {"label": wanted}
