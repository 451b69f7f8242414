"""Building the images on the daemon, and telling later stages which image to run.

For stages downstream of ``build``:

    image_ref("sidecars")            -> "claude-bottle/sidecars:<digest12>"
    agent_image_ref("researcher")    -> the agent image for researcher's bottle
                                        (its derived image, or the plain agent image)
    stamp_path("sidecars"), agent_stamp_path("researcher")
                                     -> JSON stamps {"tag", "id", "digest"}; use them as
                                        file_dep: they change exactly when the image does

A build is skipped when the daemon holds the tag named by the digest of the
image's inputs and the stamp records that tag's image ID. Tags are
``claude-bottle/<image>:<digest12>``; the full digest is the label
:data:`labels.DIGEST`.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

from . import labels, paths, store
from .digest import changed_inputs, inputs_digest
from .dockerhost import client
from .errors import BottleError
from .fsutil import write_if_changed
from .imagespec import ImageSpec, image_digest, image_tag

__all__ = [
    "stamp_path", "agent_stamp_path", "read_stamp", "image_ref", "agent_image_ref",
    "is_current", "build_image", "alias_is_current", "alias_image", "bootstrap_tag",
]

_TAIL_LINES = 40


# -- stamps: what later stages read ------------------------------------------------------------

def _stamps_dir() -> Path:
    return paths.cache_home() / "images"


def stamp_path(name: str) -> Path:
    """Stamp of a shared image (``base``, ``agent``, ``sidecars``)."""
    return _stamps_dir() / f"{name}.json"


def agent_stamp_path(agent: str) -> Path:
    """Stamp of the image an agent runs in (its bottle's derived image, or the agent image)."""
    return _stamps_dir() / "agents" / f"{paths.validate_slug(agent)}.json"


def _inputs_record(stamp: Path) -> Path:
    return stamp.with_name(stamp.stem + ".inputs.json")


def read_stamp(stamp: Path) -> dict[str, Any] | None:
    try:
        return json.loads(Path(stamp).read_text())
    except (OSError, ValueError):
        return None


def _write_stamp(stamp: Path, tag: str, image_id: str, digest: str) -> None:
    from .cachegc import record_image

    previous = read_stamp(stamp)
    if previous and isinstance(previous.get("tag"), str) and previous.get("id"):
        record_image(previous["tag"], previous["id"])  # so an image stamped before the history began is reclaimable
    record_image(tag, image_id)
    record = {"tag": tag, "id": image_id, "digest": digest}
    write_if_changed(stamp, json.dumps(record, indent=2, sort_keys=True) + "\n")


def _ref_from(stamp: Path, task: str) -> str:
    record = read_stamp(stamp)
    if not record:
        raise BottleError(f"no image recorded at {stamp}; run `doit {task}` first")
    return record["tag"]


def image_ref(name: str) -> str:
    """The tag of a shared image as last built (``base``, ``agent`` or ``sidecars``)."""
    return _ref_from(stamp_path(name), f"build:{name}")


def agent_image_ref(agent: str) -> str:
    """The tag of the image ``agent`` runs in."""
    return _ref_from(agent_stamp_path(agent), f"build:{agent}")


# -- asking the daemon -------------------------------------------------------------------------

def _daemon_get(sock_path: str, path: str) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.0 GET to the daemon's unix socket.

    Raw HTTP/1.0 on purpose: the daemon answers it unchunked and closes, and
    importing http.client (email parsing and all) costs more than the request.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(30)
        conn.connect(sock_path)
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while data := conn.recv(1 << 16):
            chunks.append(data)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise OSError(f"unexpected answer from the Docker daemon: {head[:80]!r}")
    return int(status_line[1]), body


def _unix_socket() -> str | None:
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return host.removeprefix("unix://") if host.startswith("unix://") else None


def _image_id(ref: str) -> str | None:
    """The image ID a tag points at, or None. The hot path of every no-op build.

    On the usual local socket this is one stdlib HTTP request: importing the
    docker SDK costs more than the whole uptodate check.
    """
    sock = _unix_socket()
    if sock and os.path.exists(sock):
        try:
            status, body = _daemon_get(sock, f"/images/{urllib.parse.quote(ref, safe='')}/json")
        except OSError:
            pass  # fall through to the SDK, which explains daemon problems properly
        else:
            if status == 404:
                return None
            if status == 200:
                return json.loads(body)["Id"]
    import docker.errors
    try:
        return client().api.inspect_image(ref)["Id"]
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        if exc.status_code == 404:
            return None
        raise


def _parent_id(spec: ImageSpec) -> str | None:
    """The parent's image ID from its stamp; its own task ran first and checked it against the daemon."""
    if spec.parent is None:
        return None
    record = read_stamp(stamp_path(spec.parent))
    if not record:
        raise BottleError(f"the {spec.parent} image is not built yet; run `doit build:{spec.parent}`")
    return record["id"]


def _target(spec: ImageSpec) -> tuple[str, str, dict[str, Any]]:
    parent_id = _parent_id(spec)
    inputs = {**spec.inputs(), "parent_id": parent_id}
    digest = image_digest(spec, parent_id)
    return digest, image_tag(spec.name, digest), inputs


def is_current(spec: ImageSpec, stamp: str) -> bool:
    """doit ``uptodate``: the daemon has the tag for these inputs and the stamp names its image."""
    try:
        _, tag, _ = _target(spec)
    except BottleError:
        return False
    record = read_stamp(Path(stamp))
    if not record or record.get("tag") != tag:
        return False
    return _image_id(tag) == record.get("id")


# -- the base's upstream: pull the pinned image, or bootstrap it offline -----------------------

def bootstrap_tag(recipe: dict[str, Any]) -> tuple[str, str]:
    """(digest of the bootstrap recipe, tag of the image bootstrapped from it)."""
    digest = inputs_digest(recipe)
    return digest, f"claude-bottle/debian-bootstrap:{digest[:12]}"


def _try_pull(ref: str) -> bool:
    import docker.errors
    if _image_id(ref):
        return True
    name, _, digest = ref.partition("@")
    print(f"pulling {ref}", flush=True)
    try:
        client().api.pull(name.split(":")[0], tag=digest or name.partition(":")[2] or "latest")
    except docker.errors.APIError as exc:
        first = str(exc.explanation or exc).splitlines()[0][:200]
        print(f"  cannot pull {ref} ({first}); bootstrapping an equivalent offline instead", flush=True)
        return False
    return _image_id(ref) is not None


def _mmdebstrap(recipe: dict[str, Any], dest: Path) -> None:
    # Retries change how the packages are fetched, never which: not part of the recipe's digest.
    cmd = ["mmdebstrap", f"--variant={recipe.get('variant', 'minbase')}", "--mode=auto",
           "--aptopt=Acquire::Retries \"5\"",
           *[f"--dpkgopt={o}" for o in recipe.get("dpkg_options", ())],
           recipe["suite"], "-", *recipe["sources"]]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(recipe.get("source_date_epoch", 0))}
    print(f"bootstrapping Debian {recipe['suite']} with mmdebstrap (about a minute)", flush=True)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    except FileNotFoundError:
        raise BottleError("the pinned base image cannot be pulled and mmdebstrap is not installed; "
                          "install it (apt-get install mmdebstrap) or make the registry reachable") from None
    assert proc.stdout is not None
    try:
        store.write_chunks(dest, iter(lambda: proc.stdout.read(1 << 20), b""), what="bootstrap rootfs")
    finally:
        rc = proc.wait()
    if rc != 0:
        dest.unlink(missing_ok=True)
        raise BottleError(f"mmdebstrap failed (exit {rc}) building the offline base; its output is above")


def _bootstrap(recipe: dict[str, Any]) -> str:
    digest, tag = bootstrap_tag(recipe)
    if _image_id(tag):
        return tag
    rootfs = paths.store_dir() / f"{digest}-debian-bootstrap.tar"
    if not rootfs.exists():
        _mmdebstrap(recipe, rootfs)
    repo, _, version = tag.partition(":")
    print(f"importing {rootfs.name} as {tag}", flush=True)
    client().api.import_image_from_file(
        str(rootfs), repository=repo, tag=version,
        changes=['CMD ["bash"]', f"LABEL {labels.DIGEST}={digest}"])
    if not _image_id(tag):
        raise BottleError(f"docker import of {rootfs} did not produce {tag}")
    return tag


def _upstream(spec: ImageSpec) -> str:
    upstream = json.loads(spec.file("upstream.json"))
    if _try_pull(upstream["image"]):
        return upstream["image"]
    return _bootstrap(upstream["bootstrap"])


# -- building ----------------------------------------------------------------------------------

def _reason(stamp: Path, inputs: dict[str, Any], tag: str) -> str:
    previous = read_stamp(_inputs_record(stamp))
    if previous is None:
        return "no image with these inputs yet"
    changed = changed_inputs(previous, inputs)
    if not changed:
        return f"{tag} is gone from the daemon"
    shown = [("parent image" if c == "parent_id" else c) for c in changed]
    more = f" and {len(shown) - 6} more" if len(shown) > 6 else ""
    return "inputs changed: " + ", ".join(shown[:6]) + more


def _stream_build(spec: ImageSpec, tag: str, digest: str, buildargs: dict[str, str]) -> str:
    """Run the build, printing its log; return the image ID or raise naming the failing step."""
    import docker.errors
    step, tail, image_id = "(before the first step)", [], None
    try:
        log = client().api.build(
            fileobj=_context_file(spec), custom_context=True, tag=tag, buildargs=buildargs,
            labels={labels.DIGEST: digest}, rm=True, forcerm=True, pull=False, decode=True)
        for chunk in log:
            if "stream" in chunk:
                text = chunk["stream"]
                print(text, end="", flush=True)
                for line in text.splitlines():
                    if line.startswith("Step "):
                        step, tail = line, []
                    elif line.strip() and not line.startswith((" ---> ", "Removing intermediate container")):
                        tail = (tail + [line])[-_TAIL_LINES:]
            elif "error" in chunk:
                raise BottleError(f"building {tag} failed at {step}\n"
                                  + "".join(f"    {line}\n" for line in tail)
                                  + f"  {chunk['error'].strip()}")
            elif "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
    except docker.errors.APIError as exc:
        raise BottleError(f"building {tag} failed at {step}: {exc.explanation or exc}") from None
    return image_id or _image_id(tag) or ""


def _context_file(spec: ImageSpec):
    fh = tempfile.TemporaryFile()
    fh.write(spec.context())
    fh.seek(0)
    return fh


def build_image(spec: ImageSpec, stamp: str) -> dict:
    """doit action: make the image for ``spec`` exist, then record it in ``stamp``."""
    stamp_file = Path(stamp)
    digest, tag, inputs = _target(spec)
    image_id = _image_id(tag)
    if image_id:
        print(f"{tag} is already in the daemon", flush=True)
    else:
        previous = read_stamp(stamp_file)
        saved = store.find_image(previous["id"]) if previous and previous.get("digest") == digest else None
        if saved:
            store.load_image(saved)
            image_id = _image_id(tag)
    if not image_id:
        print(f"building {tag} ({_reason(stamp_file, inputs, tag)})", flush=True)
        buildargs = {k: v for k, v in spec.build_args}
        if spec.parent is None:
            buildargs["UPSTREAM"] = _upstream(spec)
        elif spec.name == "derived":
            buildargs["PARENT"] = read_stamp(stamp_path(spec.parent))["tag"]
        else:
            buildargs["BASE"] = read_stamp(stamp_path(spec.parent))["tag"]
        image_id = _stream_build(spec, tag, digest, buildargs)
        if not image_id or _image_id(tag) != image_id:
            raise BottleError(f"the build of {tag} reported success but the daemon has no such image")
    _write_stamp(stamp_file, tag, image_id, digest)
    write_if_changed(_inputs_record(stamp_file), json.dumps(inputs, indent=2, sort_keys=True) + "\n")
    return {"image": tag, "id": image_id}


def alias_is_current(source_stamp: str, stamp: str) -> bool:
    """doit ``uptodate`` for an agent whose bottle adds nothing: same record as the agent image."""
    source = read_stamp(Path(source_stamp))
    if not source or read_stamp(Path(stamp)) != source:
        return False
    return _image_id(source["tag"]) == source["id"]


def alias_image(source_stamp: str, stamp: str) -> dict:
    source = read_stamp(Path(source_stamp))
    if not source:
        raise BottleError(f"no image recorded at {source_stamp}; run `doit build:agent` first")
    _write_stamp(Path(stamp), source["tag"], source["id"], source["digest"])
    print(f"uses {source['tag']} (the bottle adds no capabilities)", flush=True)
    return {"image": source["tag"], "id": source["id"]}
