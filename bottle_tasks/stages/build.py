"""build — the images every bottle runs on, each named by the digest of its inputs.

    build:base ─┬─> build:agent ──────> build:<agent>  (derived image from the bottle's
                │                          ▲             capabilities, or the agent image)
                └─> build:sidecars    plan:<agent>

Each task collects its inputs (context files, build args, parent image) in an
:class:`~bottle_tasks.imagespec.ImageSpec`; the digest of that plus the
parent's image ID names the tag ``claude-bottle/<image>:<digest12>``. A task is
up to date when the daemon holds that tag and the stamp records its image ID,
so a fresh doit database in front of a warm daemon runs no build. There are no
file_deps on the context: the digest already covers every file.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .. import imagebuild, paths
from ..actions import action
from ..buildca import resolve_build_ca
from ..graph import agents
from ..imagespec import ImageSpec, agent_spec, base_spec, derived_spec, sidecars_spec
from ..paths import images_dir, repo_root
from .common import broken, dep, group

__all__ = ["task_build", "shared_specs"]

DOC = "build the base, agent and sidecars images and each bottle's derived agent image"

_DOCS = {
    "base": "the pinned Debian base image (pulled, or bootstrapped offline with mmdebstrap)",
    "agent": "the agent image: Node.js, Claude Code, git, user node",
    "sidecars": "the sidecars image: mitmproxy, supervisord, MCP server, git daemon",
}


def _build_ca_key() -> str | None:
    """Stat of the files the build CA is derived from; None when it is set explicitly."""
    import os
    from ..buildca import ENV, HOST_BUNDLE
    if os.environ.get(ENV) is not None:
        return None
    parts = []
    for path in (HOST_BUNDLE, _reference_path()):
        try:
            st = os.stat(path)
            parts.append(f"{path}:{st.st_mtime_ns}:{st.st_size}")
        except (OSError, TypeError):
            parts.append(f"{path}:absent")
    return "|".join(parts)


def _reference_path() -> str | None:
    import importlib.util
    spec = importlib.util.find_spec("certifi")
    return str(Path(spec.origin).with_name("cacert.pem")) if spec and spec.origin else None


@lru_cache(maxsize=1)
def _build_ca() -> bytes:
    """The build CA, remembered by the stat of the bundles it is computed from (task creators run every time)."""
    import base64
    import json
    key = _build_ca_key()
    memo = paths.cache_home() / "images" / "build-ca.json"
    if key is not None:
        try:
            data = json.loads(memo.read_text())
            if data["key"] == key:
                return base64.b64decode(data["pem"])
        except (OSError, ValueError, KeyError):
            pass
    pem = resolve_build_ca().pem
    if key is not None:
        from ..fsutil import atomic_write
        try:
            atomic_write(memo, json.dumps({"key": key, "pem": base64.b64encode(pem).decode()}))
        except OSError:
            pass
    return pem


@lru_cache(maxsize=1)
def shared_specs() -> dict[str, ImageSpec]:
    images = images_dir()
    return {
        "base": base_spec(images),
        "agent": agent_spec(images, _build_ca()),
        "sidecars": sidecars_spec(images, repo_root(), _build_ca()),
    }


def _image_task(name: str, spec: ImageSpec, stamp: str, doc: str, task_dep: list[str]) -> dict:
    return {
        "name": name,
        "doc": doc,
        "actions": [action(imagebuild.build_image, spec, stamp)],
        "uptodate": [(imagebuild.is_current, [spec, stamp])],
        "targets": [stamp],
        "task_dep": task_dep,
        "verbosity": 2,
    }


def task_build():
    yield group("build", DOC)
    specs = shared_specs()
    for name, spec in specs.items():
        parent = [f"build:{spec.parent}"] if spec.parent else []
        yield _image_task(name, spec, str(imagebuild.stamp_path(name)), _DOCS[name], parent)
    agent_stamp = str(imagebuild.stamp_path("agent"))
    for entry in agents():
        doc = f"the agent image for {entry.name}'s bottle (with its capabilities)"
        if entry.plan is None:
            yield broken(entry, doc, ["build:agent"])
            continue
        stamp = str(imagebuild.agent_stamp_path(entry.name))
        derived = derived_spec(entry.plan.capabilities, _build_ca())
        if derived is not None:
            yield _image_task(entry.name, derived, stamp, doc, [dep("plan", entry), "build:agent"])
            continue
        yield {
            "name": entry.name,
            "doc": doc,
            "actions": [action(imagebuild.alias_image, agent_stamp, stamp)],
            "uptodate": [(imagebuild.alias_is_current, [agent_stamp, stamp])],
            "targets": [stamp],
            "task_dep": [dep("plan", entry), "build:agent"],
            "verbosity": 2,
        }
