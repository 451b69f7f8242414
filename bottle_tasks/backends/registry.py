"""An ephemeral local OCI registry, and pushing ``docker save`` tarballs into it.

    per-run network claude-bottle-pipeline-<run>  (labelled, backend smolmachines)
      ├── registry  (images/registry: Debian docker-registry)  :5000 ──> 127.0.0.1:<port> on the host
      └── pusher    (same image: skopeo copy docker-archive:/in/image.tar
                     docker://registry:5000/<repo>:<tag>), one shot

The Docker daemon is never asked to push: it insists on HTTPS for any
registry but localhost and cannot push a tarball anyway. skopeo speaks plain
HTTP to the registry by its network alias; smolvm later pulls from the host
side, ``localhost:<port>``, which its puller reaches over plain HTTP.

Every container and the network carry our labels, and :meth:`RegistrySession.close`
removes them; callers close in ``finally``. The tool image is built FROM our
base image through the shared image build code and tagged by the digest of
its inputs, like every other image.
"""
from __future__ import annotations

import json
import time
import uuid
from functools import lru_cache
from pathlib import Path

from .. import imagebuild, labels, paths
from ..digest import files_from_dir
from ..errors import BottleError
from ..imagespec import ImageSpec

__all__ = ["TOOLS_IMAGE", "tools_spec", "tools_stamp", "ensure_tools_image", "RegistrySession",
           "MANIFEST_TYPES", "PIPELINE_ROLE"]

TOOLS_IMAGE = "registry"
PIPELINE_ROLE = "pipeline"
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.oci.image.manifest.v1+json")
_PORT = "5000/tcp"


@lru_cache(maxsize=1)
def tools_spec() -> ImageSpec:
    root = paths.images_dir() / TOOLS_IMAGE
    if not (root / "Dockerfile").is_file():
        raise BottleError(f"{root / 'Dockerfile'} is missing: the pipeline's registry image has no build context")
    return ImageSpec(TOOLS_IMAGE, tuple(files_from_dir(root)), parent="base")


def tools_stamp() -> Path:
    return imagebuild.stamp_path(TOOLS_IMAGE)


def ensure_tools_image() -> str:
    """The registry/skopeo image's tag, building it (FROM the current base) when the daemon lacks it."""
    spec, stamp = tools_spec(), str(tools_stamp())
    if not imagebuild.is_current(spec, stamp):
        imagebuild.build_image(spec, stamp)
    return imagebuild.read_stamp(Path(stamp))["tag"]


def _labels(run: str, role: str) -> dict[str, str]:
    import os
    return labels.managed_labels(backend="smolmachines", role=role,
                                 **{f"{labels.PREFIX}.pipeline": run, labels.OWNER_PID: str(os.getpid())})


class RegistrySession:
    """One registry on its own network; :meth:`close` removes everything it created."""

    def __init__(self, image: str) -> None:
        from ..dockerhost import client
        self.docker = client()
        self.image = image
        self.run = uuid.uuid4().hex[:10]
        self.network_name = f"claude-bottle-pipeline-{self.run}"
        self.network = None
        self.registry = None
        self.port: int | None = None
        self.pushed: dict[str, str] = {}  # "<repo>:<tag>" -> config digest

    # -- lifetime ---------------------------------------------------------------------------

    def open(self) -> "RegistrySession":
        try:
            self.network = self.docker.networks.create(self.network_name, driver="bridge",
                                                       labels=_labels(self.run, PIPELINE_ROLE))
            self.registry = self.docker.containers.run(
                self.image, name=f"{self.network_name}-registry", detach=True,
                labels=_labels(self.run, "registry"), network=self.network_name,
                ports={_PORT: ("127.0.0.1", None)})
            self.network.disconnect(self.registry)
            self.network.connect(self.registry, aliases=["registry"])
            self.port = self._published_port()
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        print(f"pipeline registry up at localhost:{self.port} (network {self.network_name})", flush=True)
        return self

    def close(self) -> None:
        import docker.errors
        flt = {"label": [f"{labels.PREFIX}.pipeline={self.run}"]}
        for c in self.docker.containers.list(all=True, filters=flt):
            try:
                c.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
        for n in self.docker.networks.list(filters=flt):
            try:
                n.remove()
            except docker.errors.NotFound:
                pass
        self.registry = self.network = None

    def __enter__(self) -> "RegistrySession":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _published_port(self) -> int:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.registry.reload()
            bound = (self.registry.attrs["NetworkSettings"].get("Ports") or {}).get(_PORT)
            if bound:
                return int(bound[0]["HostPort"])
            time.sleep(0.1)
        raise BottleError("the pipeline registry's port was not published on 127.0.0.1")

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.base_url}/v2/", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            self.registry.reload()
            if self.registry.status not in ("created", "running"):
                raise BottleError("the pipeline registry exited: "
                                  + self.registry.logs(tail=20).decode(errors="replace"))
            if time.monotonic() > deadline:
                raise BottleError(f"the pipeline registry did not answer on {self.base_url} within {timeout:.0f}s")
            time.sleep(0.2)

    # -- use ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def host_ref(self, repo: str, tag: str) -> str:
        """How a process on the host (smolvm) names the pushed image."""
        return f"localhost:{self.port}/{repo}:{tag}"

    def push(self, tarball: Path, repo: str, tag: str, timeout: float = 1800) -> None:
        """Push a ``docker save`` tarball with skopeo from a container on the registry's network."""
        print(f"pushing {tarball.name} to the pipeline registry as {repo}:{tag}", flush=True)
        started = time.monotonic()
        pusher = self.docker.containers.run(
            self.image, ["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
                         "--dest-compress-level", "1",
                         "docker-archive:/in/image.tar", f"docker://registry:5000/{repo}:{tag}"],
            name=f"{self.network_name}-push-{uuid.uuid4().hex[:6]}", detach=True,
            labels=_labels(self.run, "pusher"), network=self.network_name,
            volumes={str(Path(tarball).resolve()): {"bind": "/in/image.tar", "mode": "ro"}})
        try:
            code = pusher.wait(timeout=timeout).get("StatusCode", 1)
            output = pusher.logs().decode(errors="replace").strip()
        finally:
            pusher.remove(force=True)
        if code != 0:
            raise BottleError(f"pushing {tarball} to the pipeline registry failed (skopeo exit {code}):\n"
                              + "\n".join(f"    {line}" for line in output.splitlines()[-15:]))
        print(f"pushed {repo}:{tag} in {time.monotonic() - started:.0f}s", flush=True)

    def manifest(self, repo: str, tag: str) -> dict:
        import urllib.error
        import urllib.request

        req = urllib.request.Request(f"{self.base_url}/v2/{repo}/manifests/{tag}",
                                     headers={"Accept": ", ".join(MANIFEST_TYPES)})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise BottleError(f"the pipeline registry has no manifest for {repo}:{tag} (HTTP {exc.code})") from None

    def push_verified(self, tarball: Path, repo: str, tag: str, image_id: str) -> str:
        """Push, then check the registry's manifest names ``image_id`` as its config; returns the digest."""
        self.push(tarball, repo, tag)
        config = self.manifest(repo, tag).get("config", {}).get("digest")
        if config != image_id:
            raise BottleError(f"the registry's manifest for {repo}:{tag} has config {config}, "
                              f"not the image {image_id}: {tarball} does not hold that image")
        self.pushed[f"{repo}:{tag}"] = config
        return config
