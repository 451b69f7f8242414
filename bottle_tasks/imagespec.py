"""What each image is built from, as values: context files, build args, parent.

    base      images/base/ (Dockerfile, upstream.json: pinned image + bootstrap recipe)
    agent     images/agent/  + build-ca.pem                       FROM base
    sidecars  images/sidecars/ + project/ (bottle_tasks, schemas,
              pyproject.toml, README.md) + build-ca.pem           FROM base
    derived   a generated Dockerfile from a bottle's capabilities
              (+ build-ca.pem when it installs npm packages)      FROM agent

An image's digest is the digest of :meth:`ImageSpec.inputs` plus its parent's
image ID, so anything that changes the image is in that one dict. Reads
files only; no Docker.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .digest import ContextFile, context_tar, files_from_dir, inputs_digest
from .errors import BottleError
from .plan import Capabilities

__all__ = [
    "REPOSITORY", "SHARED_IMAGES", "ImageSpec", "base_spec", "agent_spec", "sidecars_spec",
    "derived_spec", "derived_dockerfile", "image_digest", "image_tag", "BUILD_CA_FILE",
]

REPOSITORY = "claude-bottle"
SHARED_IMAGES = ("base", "agent", "sidecars")
BUILD_CA_FILE = "build-ca.pem"
# What the sidecars image needs of this repository to `pip install` it.
PROJECT_FILES = ("pyproject.toml", "README.md")
PROJECT_DIRS = ("bottle_tasks", "schemas")


@dataclass(frozen=True)
class ImageSpec:
    """One image to build. ``parent`` names the image whose ID feeds the digest (None for base)."""
    name: str
    files: tuple[ContextFile, ...]
    parent: str | None
    build_args: tuple[tuple[str, str], ...] = ()

    def inputs(self) -> dict[str, Any]:
        """Every input that changes the image except the parent's ID; the digest is taken over this."""
        return {
            "image": self.name,
            "files": {f.name: f.sha256 + (" +x" if f.executable else "") for f in self.files},
            "build_args": dict(self.build_args),
            "parent": self.parent,
        }

    def context(self) -> bytes:
        return context_tar(self.files)

    def file(self, name: str) -> bytes:
        for f in self.files:
            if f.name == name:
                return f.data
        raise KeyError(name)


def image_digest(spec: ImageSpec, parent_id: str | None) -> str:
    return inputs_digest({**spec.inputs(), "parent_id": parent_id})


def image_tag(name: str, digest: str) -> str:
    return f"{REPOSITORY}/{name}:{digest[:12]}"


def _context_dir(images: Path, name: str) -> list[ContextFile]:
    root = Path(images) / name
    if not (root / "Dockerfile").is_file():
        raise BottleError(f"{root / 'Dockerfile'} is missing: the '{name}' image has no build context "
                          "(check CLAUDE_BOTTLE_IMAGES if you set it)")
    return [f for f in files_from_dir(root) if f.name != BUILD_CA_FILE]


def base_spec(images: Path) -> ImageSpec:
    files = _context_dir(images, "base")
    spec = ImageSpec("base", tuple(files), parent=None)
    try:
        upstream = json.loads(spec.file("upstream.json"))
        upstream["image"], upstream["bootstrap"]["suite"]
    except (KeyError, ValueError, TypeError) as exc:
        raise BottleError(f"{Path(images) / 'base' / 'upstream.json'}: needs 'image' (the pinned "
                          f"debian:...@sha256 reference) and 'bootstrap' (the mmdebstrap recipe): {exc}") from None
    return spec


def _with_ca(files: list[ContextFile], build_ca: bytes) -> tuple[ContextFile, ...]:
    return tuple([*files, ContextFile(BUILD_CA_FILE, build_ca)])


def agent_spec(images: Path, build_ca: bytes) -> ImageSpec:
    return ImageSpec("agent", _with_ca(_context_dir(images, "agent"), build_ca), parent="base")


def _project_files(repo: Path) -> list[ContextFile]:
    out = []
    for name in PROJECT_FILES:
        path = repo / name
        # setuptools reads the readme named in pyproject.toml; an empty one is
        # as good as any for an install into the sidecars venv.
        data = path.read_bytes() if path.is_file() else b""
        out.append(ContextFile(f"project/{name}", data))
    for d in PROJECT_DIRS:
        out.extend(files_from_dir(repo / d, prefix=f"project/{d}/"))
    return out


def sidecars_spec(images: Path, repo: Path, build_ca: bytes) -> ImageSpec:
    files = _context_dir(images, "sidecars") + _project_files(Path(repo))
    return ImageSpec("sidecars", _with_ca(files, build_ca), parent="base")


def derived_dockerfile(caps: Capabilities) -> str:
    """The Dockerfile of a bottle's derived agent image, built FROM the agent image (arg PARENT)."""
    lines = ["# Generated from a bottle's capabilities.", "ARG PARENT"]
    if caps.npm:
        lines += [
            "FROM ${PARENT} AS npm",
            "USER root",
            f"COPY {BUILD_CA_FILE} /tmp/{BUILD_CA_FILE}",
            "RUN set -eu; cat /etc/ssl/certs/ca-certificates.crt /tmp/build-ca.pem > /tmp/bundle.pem; \\",
            "    npm_config_update_notifier=false NODE_EXTRA_CA_CERTS=/tmp/bundle.pem "
            "npm_config_cafile=/tmp/bundle.pem \\",
            "    npm install --global --prefix /opt/bottle/npm --no-fund --no-audit --loglevel=warn "
            + " ".join(shlex.quote(p) for p in caps.npm),
        ]
    lines += ["FROM ${PARENT}", "USER root"]
    if caps.apt:
        lines += [
            "RUN apt-get update \\",
            " && apt-get install -y --no-install-recommends " + " ".join(shlex.quote(p) for p in caps.apt)
            + " \\",
            " && rm -rf /var/lib/apt/lists/*",
        ]
    if caps.npm:
        lines += ["COPY --from=npm /opt/bottle/npm /opt/bottle/npm",
                  "ENV PATH=/opt/bottle/npm/bin:$PATH"]
    lines += list(caps.dockerfile)
    lines += ["USER node", "WORKDIR /home/node"]
    return "\n".join(lines) + "\n"


def derived_spec(caps: Capabilities, build_ca: bytes) -> ImageSpec | None:
    """The derived image for ``caps``, or None when the bottle adds nothing (it runs the agent image).

    The spec holds no bottle or agent name, so two bottles with the same
    capabilities share one image.
    """
    if caps.is_empty():
        return None
    files = [ContextFile("Dockerfile", derived_dockerfile(caps).encode())]
    if caps.npm:
        files.append(ContextFile(BUILD_CA_FILE, build_ca))
    return ImageSpec("derived", tuple(files), parent="agent")
