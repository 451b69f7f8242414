"""A real bottle for integration tests, with fake upstreams on its egress network.

The fake serves ``api.anthropic.com`` and a canary host with a test CA the
proxy is told to trust; the bottle's routes allow the docker subnets for the
fake API only. All traffic stays between containers the tests create.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import tarfile
import textwrap
import time
from pathlib import Path

import yaml

from bottle_tasks import labels
from tests.conftest import run_doit
from tests.integration.conftest import remove_labelled
from tests.integration.fakes.tls import make_upstream_tls

FAKES = Path(__file__).parent / "fakes"
CANARY = "canary.bottle.test"
# A host whose route allows only loopback: the fake behind it is on a private docker address.
PRIVATE = "internal.bottle.test"
# An https git forge (git http-backend behind TLS and basic auth) the gate reaches with the bottle's token.
FORGE = "forge.bottle.test"
DOCKER_SUBNETS = ["172.16.0.0/12", "192.168.0.0/16", "10.0.0.0/8"]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def write_bottle(home: Path, extra_routes: list[dict] | None = None, git: dict | None = None) -> None:
    """The shipped dev bottle, with the docker subnets allowed past the SSRF guard (our fakes live there)."""
    meta = {
        "extends": "dev",
        "egress": {
            "allow_cidrs": DOCKER_SUBNETS,
            "routes": [{"host": "api.anthropic.com", "methods": ["GET", "POST"], "path_allowlist": ["/v1/"],
                        "auth": {"scheme": "bearer", "token_ref": "CLAUDE_CODE_OAUTH_TOKEN",
                                 "agent_env": "CLAUDE_CODE_OAUTH_TOKEN"},
                        "dlp": "log"},
                       *(extra_routes or [])],
        },
        "supervise": {"timeout_seconds": 120},
    }
    if git:
        meta["git"] = git
    path = home / "bottles/e2e.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\nA test bottle.\n")


class Bottle:
    def __init__(self, root: Path, docker, run_id: str, prefix: str, workspace: Path | None = None,
                 env: dict[str, str] | None = None):
        self.root, self.docker, self.run_id = root, docker, run_id
        self.agent = f"{prefix}-{run_id[:6]}"
        self.home, self.cache = root / "home", root / "cache"
        self.token = "sk-ant-oat01-" + secrets.token_hex(16)
        self.tls = make_upstream_tls(root / "tls", ["api.anthropic.com", CANARY, PRIVATE, FORGE])
        self.env = {"CLAUDE_BOTTLE_HOME": str(self.home), "CLAUDE_BOTTLE_CACHE": str(self.cache),
                    "CLAUDE_CODE_OAUTH_TOKEN": self.token, "CLAUDE_BOTTLE_UPSTREAM_CA": str(self.tls),
                    **(env or {})}
        if workspace is not None:
            self.env["CLAUDE_BOTTLE_CWD"] = str(workspace)
        self.out = root / "fake-out"
        self.fake = None
        self.extra_containers: list = []

    @property
    def egress_network(self) -> str:
        return f"claude-bottle-{self.agent}-egress"

    def doit(self, *args: str, **kw):
        return run_doit(*args, env=self.env, **kw)

    def start_fake(self) -> None:
        self.out.mkdir(exist_ok=True)
        image = json.loads((self.cache / "images/sidecars.json").read_text())["tag"]
        self.fake = self.docker.containers.run(
            image, ["/opt/bottle/venv/bin/python", "/opt/fakes/https_upstream.py"], detach=True,
            entrypoint=[], user="root", name=f"claude-bottle-test-{self.run_id}-{self.agent}-fake",
            labels={**labels.managed_labels(slug=self.agent, role="test-upstream"),
                    "dev.claude-bottle.test": self.run_id},
            environment={"EXPECTED_AUTHORIZATION": f"Bearer {self.token}"},
            volumes={str(FAKES): {"bind": "/opt/fakes", "mode": "ro"},
                     str(self.tls.parent): {"bind": "/fake/in", "mode": "ro"},
                     str(self.out): {"bind": "/fake/out", "mode": "rw"}},
            network=self.egress_network)
        net = self.docker.networks.get(self.egress_network)
        net.disconnect(self.fake)
        net.connect(self.fake, aliases=["api.anthropic.com", CANARY, PRIVATE])
        probe = ("import socket,time\n"
                 "for _ in range(100):\n"
                 "    try: socket.create_connection(('127.0.0.1', 443), 1).close(); break\n"
                 "    except OSError: time.sleep(0.1)\n"
                 "else: raise SystemExit('fake upstream did not listen')")
        r = self.fake.exec_run(["/opt/bottle/venv/bin/python", "-c", probe])
        self.fake.reload()
        assert r.exit_code == 0, self.fake.logs().decode(errors="replace")

    def start_forge(self, repos: Path, user: str, token_env: str) -> None:
        """Serve the bare repositories under ``repos`` as https://forge.bottle.test/<name>.git, wanting the token."""
        image = json.loads((self.cache / "images/sidecars.json").read_text())["tag"]
        forge = self.docker.containers.run(
            image, ["/opt/bottle/venv/bin/python", "/opt/fakes/git_https_upstream.py", "--root", "/srv/git",
                    "--bind", "0.0.0.0", "--port", "443", "--cert", "/fake/in/cert.pem", "--key", "/fake/in/key.pem",
                    "--user", user, "--token-env", token_env],
            detach=True, entrypoint=[], user="root", name=f"claude-bottle-test-{self.run_id}-{self.agent}-forge",
            labels={**labels.managed_labels(slug=self.agent, role="test-upstream"),
                    "dev.claude-bottle.test": self.run_id},
            environment={token_env: self.env[token_env]},
            volumes={str(FAKES): {"bind": "/opt/fakes", "mode": "ro"},
                     str(self.tls.parent): {"bind": "/fake/in", "mode": "ro"},
                     str(repos): {"bind": "/srv/git", "mode": "rw"}},
            network=self.egress_network)
        self.extra_containers.append(forge)
        net = self.docker.networks.get(self.egress_network)
        net.disconnect(forge)
        net.connect(forge, aliases=[FORGE])
        for _ in range(100):
            if b'"listening"' in forge.logs():
                return
            forge.reload()
            assert forge.status == "running", forge.logs().decode(errors="replace")
            time.sleep(0.1)
        raise AssertionError("the forge did not listen:\n" + forge.logs().decode(errors="replace"))

    def forge_requests(self) -> list[dict]:
        forge = self.extra_containers[0]
        return [json.loads(line) for line in forge.logs().decode().splitlines() if '"method"' in line]

    def fake_ip(self) -> str:
        self.fake.reload()
        return self.fake.attrs["NetworkSettings"]["Networks"][self.egress_network]["IPAddress"]

    def container(self, role: str):
        return self.docker.containers.get(f"claude-bottle-{self.agent}-{role}")

    def put_fake(self, name: str) -> None:
        """Copy ``fakes/<name>`` (a test client) into the agent's home."""
        data = (FAKES / name).read_bytes()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        self.container("agent").put_archive("/home/node", buf.getvalue())

    def exec(self, script: str, user: str = "node", role: str = "agent") -> tuple[int, str]:
        r = self.container(role).exec_run(["sh", "-c", script], user=user)
        return r.exit_code, r.output.decode(errors="replace")

    def fake_requests(self) -> list[dict]:
        path = self.out / "requests.jsonl"
        return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []


@contextlib.contextmanager
def running_bottle(root: Path, docker, run_id: str, prefix: str, workspace: Path | None = None,
                   extra_routes: list[dict] | None = None, git: dict | None = None,
                   env: dict[str, str] | None = None):
    """Bring a bottle up to provisioned, with the fake upstream attached; tear everything down after."""
    b = Bottle(root, docker, run_id, prefix, workspace, env)
    write(b.home / f"agents/{b.agent}.md", """
        ---
        description: integration test agent
        bottle: e2e
        skills: [cite-sources]
        ---
        You are a test agent.
        """)
    write_bottle(b.home, extra_routes, git)
    old = {k: os.environ.get(k) for k in b.env}
    os.environ.update(b.env)
    try:
        result = b.doit(f"up:{b.agent}")
        assert result.returncode == 0, result.stdout + result.stderr
        b.start_fake()
        result = b.doit(f"provision:{b.agent}")
        assert result.returncode == 0, result.stdout + result.stderr
        yield b
    finally:
        # The fake first: compose down cannot remove a network another container still uses.
        for fake in [b.fake, *b.extra_containers]:
            if fake is not None:
                fake.remove(force=True)
        b.doit(f"stop:{b.agent}")
        remove_labelled(docker, f"{labels.SLUG}={b.agent}")
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
