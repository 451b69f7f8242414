"""An ssh git upstream in a container, for the git gate's integration test.

The upstream image is Debian trixie with openssh-server and git, bootstrapped
with mmdebstrap from Debian's mirror (no registry needed) and cached under a
tag named by the digest of its recipe, so only the first run pays for it.
"""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

UPSTREAM_RECIPE = {
    "suite": "trixie",
    "variant": "minbase",
    "include": ["git", "openssh-server"],
    "mirror": "http://deb.debian.org/debian",
}
UPSTREAM_REPO = "/srv/git/project.git"


def upstream_image(client) -> str:
    """Tag of the sshd + git upstream image, bootstrapping it the first time."""
    digest = hashlib.sha256(json.dumps(UPSTREAM_RECIPE, sort_keys=True).encode()).hexdigest()[:12]
    tag = f"claude-bottle-test/git-upstream:{digest}"
    try:
        client.images.get(tag)
        return tag
    except Exception:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        r = UPSTREAM_RECIPE
        print(f"bootstrapping the test git upstream image {tag} with mmdebstrap", flush=True)
        subprocess.run(["mmdebstrap", f"--variant={r['variant']}", f"--include={','.join(r['include'])}",
                        '--aptopt=Acquire::Retries "5"',
                        r["suite"], str(rootfs), r["mirror"]], check=True, capture_output=True)
        repo, _, version = tag.partition(":")
        client.api.import_image_from_file(str(rootfs), repository=repo, tag=version,
                                          changes=['CMD ["bash"]'])
    return tag


def ssh_keypair(comment: str = "bottle@test") -> tuple[bytes, str]:
    """(OpenSSH private key, authorized_keys line) for a fresh ed25519 key."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}"


def put_file(container, path: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(Path(path).name)
        info.size, info.mode, info.uid, info.gid, info.mtime = len(data), mode, uid, gid, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    container.put_archive(str(Path(path).parent), buf.getvalue())


def run(container, cmd: str, user: str = "root") -> str:
    code, out = container.exec_run(["sh", "-c", cmd], user=user)
    text = out.decode(errors="replace")
    if code != 0:
        raise AssertionError(f"`{cmd}` in {container.name} exited {code}:\n{text}")
    return text


@dataclass
class SshUpstream:
    container: object
    host: str  # network alias
    host_key_line: str  # "ssh-ed25519 AAAA..." (no host field, as a bottle may hold it)

    @property
    def url(self) -> str:
        return f"ssh://git@{self.host}{UPSTREAM_REPO}"

    def rev(self, ref: str) -> str:
        code, out = self.container.exec_run(
            ["git", "--git-dir", UPSTREAM_REPO, "rev-parse", "--verify", "--quiet", ref], user="git")
        return out.decode().strip() if code == 0 else ""


def start_ssh_upstream(client, network, labels: dict[str, str], authorized_key: str, name: str,
                       alias: str = "git-upstream") -> SshUpstream:
    """An sshd serving one bare repository (``main`` with one commit) to user git with ``authorized_key``."""
    container = client.containers.run(
        upstream_image(client),
        ["sh", "-c", "mkdir -p /run/sshd && ssh-keygen -A >/dev/null && exec /usr/sbin/sshd -D -e"],
        detach=True, labels=labels, network=network.name, name=name)
    network.disconnect(container)
    network.connect(container, aliases=[alias])
    run(container, "useradd --create-home --shell /usr/bin/git-shell git && usermod -p '*' git "
                   "&& mkdir -p /home/git/.ssh /srv/git")
    put_file(container, "/home/git/.ssh/authorized_keys", (authorized_key + "\n").encode(), 0o600)
    run(container, f"""set -e
        chown -R git:git /home/git/.ssh /srv/git && chmod 700 /home/git/.ssh
        su -s /bin/sh git -c '
          git init -q --bare -b main {UPSTREAM_REPO}
          git clone -q {UPSTREAM_REPO} /tmp/seed && cd /tmp/seed
          echo "upstream readme" > README.md && git add README.md
          git -c user.name=Upstream -c user.email=up@test commit -q -m initial
          git push -q origin main && rm -rf /tmp/seed'
    """)
    host_key = run(container, "cat /etc/ssh/ssh_host_ed25519_key.pub").split()
    for _ in range(100):
        if container.exec_run(["sh", "-c", "cat /proc/net/tcp | grep -q ':0016 '"]).exit_code == 0:
            break
        time.sleep(0.1)
    return SshUpstream(container=container, host=alias, host_key_line=f"{host_key[0]} {host_key[1]}")
