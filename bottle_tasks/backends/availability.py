"""Whether a backend can run bottles on this machine, and what is missing when not.

    docker        the Docker daemon answers
    smolmachines  the Docker daemon answers (the sidecars bundle runs there),
                  ``smolvm`` is on PATH and /dev/kvm opens read-write
"""
from __future__ import annotations

import os
import shutil

from ..errors import BottleError
from ..plan import BACKENDS

__all__ = ["problems", "is_available", "require", "kvm_problem", "smolvm_problem"]

KVM = "/dev/kvm"


def kvm_problem(device: str = KVM) -> str | None:
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return f"{device} does not exist (no KVM on this machine: enable virtualisation or load kvm)"
    except PermissionError:
        return f"{device} is not usable by this user (add yourself to the kvm group)"
    except OSError as exc:
        return f"{device} cannot be opened read-write ({exc.strerror})"
    os.close(fd)
    return None


def smolvm_problem() -> str | None:
    if shutil.which("smolvm") is None:
        return "smolvm is not on PATH (install it from github.com/smol-machines/smolvm)"
    return None


def problems(backend: str) -> list[str]:
    """Everything that stops ``backend`` from running here; empty when it can."""
    from ..dockerhost import daemon_problem

    if backend not in BACKENDS:
        return [f"backend '{backend}' is unknown; choose one of: {', '.join(BACKENDS)}"]
    found = [p for p in (daemon_problem(),) if p]
    if backend == "smolmachines":
        found += [p for p in (smolvm_problem(), kvm_problem()) if p]
    return found


def is_available(backend: str) -> bool:
    return not problems(backend)


def require(backend: str, slug: str) -> None:
    missing = problems(backend)
    if missing:
        raise BottleError(f"the {backend} backend cannot run {slug} on this machine:\n"
                          + "\n".join(f"  - {p}" for p in missing)
                          + ("\nuse backend=docker (or unset CLAUDE_BOTTLE_BACKEND) to run it in Docker"
                             if backend != "docker" else ""))
