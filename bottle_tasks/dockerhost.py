"""The Docker daemon, reached through the SDK. Only actions and uptodate callables use this."""
from __future__ import annotations

from functools import lru_cache

from .errors import BottleError

__all__ = ["client", "daemon_problem"]


def daemon_problem() -> str | None:
    """Why the daemon cannot be used, or None when it answers."""
    try:
        import docker
        docker.from_env(timeout=10).ping()
    except Exception as exc:  # the SDK raises several unrelated types for "no daemon"
        return f"cannot reach the Docker daemon ({exc.__class__.__name__}: {exc})"
    return None


@lru_cache(maxsize=1)
def client():
    import docker
    try:
        c = docker.from_env(timeout=600)
        c.ping()
    except Exception as exc:
        raise BottleError(
            f"cannot reach the Docker daemon: {exc}. Start dockerd (or set DOCKER_HOST) and retry."
        ) from None
    return c
