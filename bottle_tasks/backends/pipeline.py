"""The save → push → pack pipeline's artifacts and its one registry session per process.

    store/<image id>-<image>.tar ──push──> ephemeral registry ──pack──> store/<image id>.smolmachine

push and pack are separate doit tasks keyed by the image ID, but ``smolvm
pack create`` pulls from the registry, so the registry must outlive push.
A doit run executes both in one process: push opens the session and leaves
it open for pack, which closes it when done. Whatever happens, the session
is closed on failure (by the action that failed) and at process exit (when
push ran alone), so no registry container or network outlives the run.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from .. import imagebuild, paths, store
from ..errors import BottleError
from . import smolvm
from .registry import RegistrySession, ensure_tools_image

__all__ = ["pack_artifact", "image_repo", "image_tag", "push_agent", "pack_agent", "is_packed",
           "close_session", "agent_image"]

_session: RegistrySession | None = None


def pack_artifact(image_id: str) -> Path:
    """The packed microVM of an image: named by the image ID, like its ``docker save`` tarball."""
    return paths.store_dir() / f"{image_id.split(':', 1)[-1]}.smolmachine"


def image_repo(agent: str) -> str:
    return f"claude-bottle/{agent}"


def image_tag(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def agent_image(agent: str) -> dict:
    record = imagebuild.read_stamp(imagebuild.agent_stamp_path(agent))
    if not record:
        raise BottleError(f"no image recorded for {agent}; run `doit build:{agent}` first")
    return record


def is_packed(agent: str) -> bool:
    """doit ``uptodate`` of push and pack: the store holds the pack of the agent's current image."""
    record = imagebuild.read_stamp(imagebuild.agent_stamp_path(agent))
    return bool(record) and pack_artifact(record["id"]).is_file()


def _open_session() -> RegistrySession:
    global _session
    if _session is None:
        _session = RegistrySession(ensure_tools_image()).open()
        atexit.register(close_session)
    return _session


def close_session() -> None:
    global _session
    session, _session = _session, None
    if session is not None:
        session.close()
        print(f"pipeline registry on {session.network_name} removed", flush=True)


def _push(session: RegistrySession, agent: str, record: dict) -> str:
    tarball = store.find_image(record["id"])
    if tarball is None:
        raise BottleError(f"the store has no saved tarball of {record['tag']} ({record['id'][:19]}); "
                          f"run `doit save:{agent}` first")
    return session.push_verified(tarball, image_repo(agent), image_tag(record["id"]), record["id"])


def push_agent(agent: str) -> dict | None:
    """doit action of push:<agent>. Leaves the registry open for pack:<agent> in this run."""
    record = agent_image(agent)
    if pack_artifact(record["id"]).is_file():
        return None
    try:
        session = _open_session()
        digest = _push(session, agent, record)
    except BaseException:
        close_session()
        raise
    return {"pushed": session.host_ref(image_repo(agent), image_tag(record["id"])), "config": digest}


def pack_agent(agent: str) -> dict | None:
    """doit action of pack:<agent>: ``smolvm pack create`` from the registry, then close the registry."""
    record = agent_image(agent)
    dest = pack_artifact(record["id"])
    if dest.is_file():
        close_session()
        return None
    repo, tag = image_repo(agent), image_tag(record["id"])
    try:
        session = _open_session()
        if f"{repo}:{tag}" not in session.pushed:
            _push(session, agent, record)
        _pack(session.host_ref(repo, tag), dest)
    finally:
        close_session()
    return {"artifact": str(dest), "id": record["id"]}


def _pack(ref: str, dest: Path) -> None:
    """Pack into a scratch directory beside ``dest``, then rename: the store never holds half a pack."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{dest.stem[:12]}.", suffix=".pack", dir=dest.parent))
    try:
        stub = scratch / dest.stem
        print(f"packing {ref} into {dest.name} (smolvm pack create)", flush=True)
        smolvm.run(smolvm.pack_create_argv(ref, str(stub)), f"pack {ref}", capture=False)
        payload = stub.with_name(stub.name + ".smolmachine")
        if not payload.is_file():
            raise BottleError(f"smolvm pack create reported success but wrote no {payload}")
        os.chmod(payload, 0o644)
        os.replace(payload, dest)
        dir_fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"packed {dest}", flush=True)
