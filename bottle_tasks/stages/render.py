"""render:<agent> — compose file, routes, supervisord, git-gate and supervise configs.

    plan.json ───────┐
    ca:A ────────────┤
    build:<A> ───────┼─> render:A ──> state/<slug>/rendered/{docker-compose.yml, routes.yaml,
    build:sidecars ──┘                 supervisord.conf, supervise.json, git-gate.json, digest.json}
                                         └─> up:A

Files are rewritten in place (same inode) and only when their content
changed: single-file bind mounts keep pointing at the inode they were created
with, and an untouched file keeps doit's file_dep checks quiet.
"""
from __future__ import annotations

import json
import os

from ..actions import action
from ..errors import BottleError
from ..fsutil import write_in_place
from ..graph import plan_path
from ..instance import Instance
from ..locks import hold_slug_lock
from ..render import (COMPOSE_FILE, ROUTES_FILE, HostLayout, ImageRefs, digest_of, render_all)
from .common import dep, per_agent

__all__ = ["task_render", "render_instance", "image_refs", "DIGEST_FILE"]

DOC = "render the bottle's compose project and sidecar configs from its plan"
DIGEST_FILE = "digest.json"


def image_refs(slug: str) -> ImageRefs:
    from ..imagebuild import agent_image_ref, image_ref
    return ImageRefs(agent=agent_image_ref(slug), sidecars=image_ref("sidecars"))


def _git_gate(plan, inst: Instance) -> tuple[str, tuple, dict[str, str]]:
    """(daemon command, extra mounts, rendered files) of the git gate; local remotes get an outbox."""
    from ..gitgate import config, daemon
    from ..gitgate.host import ensure_outbox
    from ..render import UPSTREAM_CA_IN_SIDECAR
    from ..sidecar import GIT_GATE_CONF

    for remote in config.plan_remotes(plan):
        if config.is_local(remote.upstream):
            ensure_outbox(config.outbox_host_path(inst.dir, remote.name))
    mounts = tuple((m.source, m.target, m.read_only) for m in config.gate_mounts(plan, inst.dir))
    ca_file = UPSTREAM_CA_IN_SIDECAR if upstream_ca() else None
    return " ".join(daemon.command(GIT_GATE_CONF)), mounts, config.gate_files(plan, ca_file)


def _supervise_command() -> str:
    from ..sidecar import SUPERVISE_CONF, VENV
    return f"{VENV}/bin/python -m bottle_tasks.supervise.server --config {SUPERVISE_CONF}"


def upstream_ca() -> str | None:
    """Extra CAs the proxy trusts upstream (TLS-intercepting networks, test upstreams)."""
    path = os.environ.get("CLAUDE_BOTTLE_UPSTREAM_CA")
    if path and not os.path.isfile(path):
        raise BottleError(f"CLAUDE_BOTTLE_UPSTREAM_CA={path} is not a file")
    return os.path.abspath(path) if path else None


def render_instance(slug: str) -> dict[str, str]:
    """Render every file for ``slug``; returns the digests recorded in digest.json."""
    from ..egress.routes import RoutesError, load_routes
    from ..runtime import choose_runtime

    inst = Instance(slug)
    plan = inst.plan()
    images = image_refs(slug)
    gate_command, gate_mounts, gate_files = _git_gate(plan, inst)
    for d in (inst.rendered, inst.logs, inst.queue):
        d.mkdir(parents=True, exist_ok=True)
    layout = HostLayout(rendered=str(inst.rendered), ca=str(inst.ca), logs=str(inst.logs),
                        queue=str(inst.queue), upstream_ca=upstream_ca(), extra_mounts=gate_mounts)
    runtime = choose_runtime(images.agent)
    files = render_all(plan, images, layout, runtime=runtime.runtime, git_gate_command=gate_command,
                       supervise_command=_supervise_command())
    files.update(gate_files)
    try:
        load_routes(files[ROUTES_FILE])
    except RoutesError as exc:
        raise BottleError(f"the routes rendered for {slug} are not valid, nothing was changed:\n{exc}") from None
    for name in files:
        (inst.rendered / name).parent.mkdir(parents=True, exist_ok=True)
    changed = [name for name, text in sorted(files.items()) if write_in_place(inst.rendered / name, text)]
    digests = {
        "compose": digest_of({k: v for k, v in files.items() if k != ROUTES_FILE}),
        "routes": digest_of({ROUTES_FILE: files[ROUTES_FILE]}),
        "runtime": runtime.runtime,
        "runtime_reason": runtime.reason,
    }
    write_in_place(inst.rendered / DIGEST_FILE, json.dumps(digests, indent=2, sort_keys=True) + "\n")
    print(f"rendered {slug}: " + (", ".join(changed) if changed else "no changes"))
    return digests


def render(slug: str) -> None:
    hold_slug_lock(slug)
    render_instance(slug)


def _stamp_files(slug: str) -> list[str]:
    from ..imagebuild import agent_stamp_path, stamp_path
    return [str(agent_stamp_path(slug)), str(stamp_path("sidecars"))]


def task_render():
    def task(entry):
        inst = Instance(entry.name)
        return {"actions": [action(render, entry.name)],
                "file_dep": [str(plan_path(entry.name)), str(inst.ca / "ca.pem"), *_stamp_files(entry.name)],
                "targets": [str(inst.rendered / COMPOSE_FILE), str(inst.rendered / ROUTES_FILE)],
                "uptodate": [_inputs_unchanged(entry.name)]}
    yield from per_agent("render", DOC, lambda e: [dep("plan", e), dep("ca", e), dep("build", e), "build:sidecars"],
                         task)

def _inputs_unchanged(slug: str):
    from doit.tools import config_changed
    return config_changed({"upstream_ca": os.environ.get("CLAUDE_BOTTLE_UPSTREAM_CA", ""),
                           "renderer": _renderer_fingerprint()})


# Every module whose code shapes a rendered file: the compose project, the sidecar
# configs, the git gate's config and command, the sidecar layout, the labels.
_RENDERERS = ("render.py", "stages/render.py", "gitgate/config.py", "gitgate/daemon.py",
              "sidecar/__init__.py", "labels.py")


def _renderer_fingerprint() -> str:
    """A change to the renderers' code must re-render, like any other input."""
    import hashlib
    from pathlib import Path
    h = hashlib.sha256()
    for mod in _RENDERERS:
        h.update((Path(__file__).resolve().parents[1] / mod).read_bytes())
    return h.hexdigest()[:16]
