"""Provisioning steps for a running agent, over one small transport interface.

The docker backend moves files with ``put_archive`` and runs commands with
``exec_run``; the smolmachines backend will do the same through ``smolvm
machine cp/exec``. The steps themselves do not know which.
"""
from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import BottleError
from .plan import Plan
from .render import AGENT_CA_PATH, AGENT_PROMPT_PATH

__all__ = ["Transport", "DockerTransport", "HomeFile", "home_files", "provision_steps", "inputs_digest"]

AGENT_UID = 1000
_ONBOARDED = (
    "const fs=require('fs');const p=process.env.HOME+'/.claude.json';let c={};"
    "try{c=JSON.parse(fs.readFileSync(p,'utf8'))}catch(e){}"
    "c.hasCompletedOnboarding=true;c.projects=c.projects||{};"
    "for(const d of process.argv.slice(1)){c.projects[d]={...(c.projects[d]||{}),hasTrustDialogAccepted:true}}"
    "fs.writeFileSync(p,JSON.stringify(c,null,2),{mode:0o600})"
)
HOME = "/home/node"
MCP_URL = "http://supervise:9100/mcp"


class Transport(Protocol):
    def put_files(self, directory: str, files: list["HomeFile"]) -> None: ...
    def run(self, argv: list[str], user: str) -> tuple[int, str]: ...


@dataclass(frozen=True)
class HomeFile:
    path: str          # relative to the target directory
    data: bytes
    mode: int = 0o644
    uid: int = AGENT_UID


def _tar(files: list[HomeFile]) -> bytes:
    buf = io.BytesIO()
    dirs: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for f in sorted(files, key=lambda f: f.path):
            parts = Path(f.path).parts[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, f.uid, f.uid
                    tar.addfile(info)
            info = tarfile.TarInfo(f.path)
            info.size, info.mode, info.uid, info.gid = len(f.data), f.mode, f.uid, f.uid
            tar.addfile(info, io.BytesIO(f.data))
    return buf.getvalue()


class DockerTransport:
    def __init__(self, container) -> None:
        self.container = container

    def put_files(self, directory: str, files: list[HomeFile]) -> None:
        if not self.container.put_archive(directory, _tar(files)):
            raise BottleError(f"could not copy files into {self.container.name}:{directory}")

    def run(self, argv: list[str], user: str) -> tuple[int, str]:
        result = self.container.exec_run(argv, user=user, workdir="/")
        return result.exit_code, (result.output or b"").decode(errors="replace")


def _skill_files(plan: Plan) -> list[HomeFile]:
    out = []
    for skill in plan.skills:
        root = Path(skill.path)
        for p in sorted(root.rglob("*")):
            if p.is_file():
                out.append(HomeFile(f".claude/skills/{skill.name}/{p.relative_to(root)}", p.read_bytes()))
    return out


def home_files(plan: Plan, gitconfig: str) -> list[HomeFile]:
    prompt_rel = AGENT_PROMPT_PATH.removeprefix(HOME + "/")
    return [
        HomeFile(prompt_rel, plan.prompt.encode()),
        HomeFile(".gitconfig", gitconfig.encode()),
        *_skill_files(plan),
    ]


def inputs_digest(plan: Plan, ca_pem: bytes, gitconfig: str) -> str:
    """Everything provisioning puts in the agent: the plan, the CA, the files it writes
    (skills are read from disk, so an edited skill counts) and the steps themselves."""
    h = hashlib.sha256()
    parts = [plan.to_json().encode(), ca_pem, gitconfig.encode(), Path(__file__).read_bytes()]
    parts += [f.path.encode() + b"\0" + f.data for f in _skill_files(plan)]
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _check(t: Transport, argv: list[str], user: str, what: str) -> str:
    code, out = t.run(argv, user)
    if code != 0:
        raise BottleError(f"provisioning failed while {what} (exit {code}): {out.strip()[-600:]}")
    return out


def provision_steps(t: Transport, plan: Plan, ca_pem: bytes, gitconfig: str,
                    clones: list[tuple[str, list[str]]] = ()) -> None:
    """Every step is idempotent: running it twice leaves the same agent."""
    print("provision: trusting the bottle CA", flush=True)
    t.put_files("/etc/ssl/certs", [HomeFile(Path(AGENT_CA_PATH).name, ca_pem, 0o644, 0)])
    _check(t, ["sh", "-ec",
               "cd /etc/ssl/certs; [ -f ca-certificates.orig.crt ] || cp ca-certificates.crt ca-certificates.orig.crt; "
               f"cat ca-certificates.orig.crt {Path(AGENT_CA_PATH).name} > .bundle.new; mv .bundle.new ca-certificates.crt"],
           "root", "adding the bottle CA to the system store")
    print("provision: gitconfig, prompt and skills", flush=True)
    t.put_files(HOME, home_files(plan, gitconfig))
    for target, argv in clones:
        code, _ = t.run(["test", "-d", f"{target}/.git"], "node")
        if code != 0:
            print(f"provision: cloning {target} from the git gate", flush=True)
            _check(t, argv, "node", f"cloning {target} from the git gate")
    # The bottle is the sandbox: land straight in Claude Code, not in its first-run
    # theme picker or a "do you trust this folder" question about the agent's own workspace.
    _check(t, ["node", "-e", _ONBOARDED, "/workspace", *[target for target, _ in clones]], "node",
           "marking Claude Code's onboarding done")
    if plan.supervise_enabled:
        print("provision: registering the supervise MCP server with Claude Code", flush=True)
        t.run(["claude", "mcp", "remove", "--scope", "user", "supervise"], "node")
        _check(t, ["claude", "mcp", "add", "--scope", "user", "--transport", "http", "supervise", MCP_URL],
               "node", "registering the supervise MCP server")
