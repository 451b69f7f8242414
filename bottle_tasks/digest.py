"""Deterministic build contexts and the digests that name artifacts.

A build context is a tar that depends only on file names, contents and the
executable bit: entries sorted, mtime 0, owner 0:0, modes 0644/0755. The same
files give the same bytes on any machine, so their digest can name an image.
Nothing here talks to Docker or writes files.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = [
    "ContextFile", "context_tar", "files_from_dir", "sha256_hex", "inputs_digest",
    "changed_inputs", "IGNORED_PARTS",
]

# Never part of a context: bytecode and editor/VCS debris differ between
# machines without changing what the image does.
IGNORED_PARTS = frozenset({"__pycache__", ".git", ".pytest_cache", ".mypy_cache", ".DS_Store"})
IGNORED_SUFFIXES = (".pyc", ".pyo", "~", ".swp")


@dataclass(frozen=True)
class ContextFile:
    """One file of a build context: where it goes in the tar, its bytes, whether it is executable."""
    name: str
    data: bytes
    executable: bool = False

    @property
    def sha256(self) -> str:
        return sha256_hex(self.data)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ignored(rel: Path) -> bool:
    return any(part in IGNORED_PARTS for part in rel.parts) or rel.name.endswith(IGNORED_SUFFIXES)


def files_from_dir(root: Path, prefix: str = "") -> list[ContextFile]:
    """Every regular file under ``root`` (symlinks followed), named ``prefix + relative path``.

    Task creators call this on every doit command, so it walks with os.walk
    rather than pathlib: the same files, a fraction of the cost.
    """
    root_s = os.fspath(root)
    out = []
    for dirpath, dirnames, filenames in os.walk(root_s, followlinks=True):
        dirnames[:] = [d for d in dirnames if d not in IGNORED_PARTS]
        rel_dir = os.path.relpath(dirpath, root_s)
        for name in filenames:
            if name.endswith(IGNORED_SUFFIXES) or name in IGNORED_PARTS:
                continue
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            with open(full, "rb") as fh:
                data = fh.read()
            rel = name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}"
            out.append(ContextFile(name=prefix + rel, data=data, executable=bool(st.st_mode & 0o111)))
    out.sort(key=lambda f: f.name)
    return out


def _dirs_of(names: Iterable[str]) -> set[str]:
    dirs = set()
    for name in names:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return dirs


def _info(name: str, directory: bool, mode: int, size: int = 0):
    import tarfile
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def context_tar(files: Iterable[ContextFile]) -> bytes:
    """The tar of ``files``, byte-identical for identical names, contents and executable bits."""
    by_name: dict[str, ContextFile] = {}
    for f in files:
        if f.name in by_name:
            raise ValueError(f"build context lists {f.name} twice")
        by_name[f.name] = f
    import tarfile  # only builds need it; keep task creation light

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for d in sorted(_dirs_of(by_name)):
            tar.addfile(_info(d, True, 0o755))
        for name in sorted(by_name):
            f = by_name[name]
            tar.addfile(_info(name, False, 0o755 if f.executable else 0o644, len(f.data)),
                        io.BytesIO(f.data))
    return buf.getvalue()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def inputs_digest(inputs: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of ``inputs``: the one dict a task collects all its inputs in."""
    return sha256_hex(_canonical(inputs))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}" if not prefix else f"{prefix}.{k}"))
        return out or {prefix: {}}
    return {prefix: value}


def changed_inputs(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Names of the inputs that differ, for "inputs changed: Dockerfile" messages.

    Keys are flattened (``files.Dockerfile``) and the container level is
    dropped when it is the familiar one, so users read file names.
    """
    if old is None:
        return []
    a, b = _flatten(old), _flatten(new)
    changed = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    return [k.removeprefix("files.") for k in changed]
