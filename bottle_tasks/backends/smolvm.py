"""The ``smolvm`` CLI, as argv lists, and the one function that runs them.

Every smolvm call claude-bottle makes is built here and nowhere else, so the
argv can be checked against the CLI without smolvm installed. The syntax
follows smolvm's clap definitions (github.com/smol-machines/smolvm, commit
a5df500118e2, 2026-08-21):

    src/cli/pack.rs     PackCreateCmd   pack create --image/-I IMAGE --output/-o PATH
                                        (PATH names the executable stub; the payload is
                                        written beside it as PATH.smolmachine, and a PATH
                                        ending in .smolmachine is refused)
    src/cli/machine.rs  CreateCmd       machine create --name/-n NAME --from PATH(.smolmachine)
                                        --allow-cidr CIDR (repeatable, implies --net)
                                        --label KEY=VALUE  --env/-e KEY=VALUE  --workdir/-w DIR
                                        --cpus N  --mem MiB
                        StartCmd        machine start --name NAME
                        ExecCmd         machine exec --name NAME [-i] [-t] [-w DIR] [-e K=V]
                                        -- COMMAND...   (no --user flag: we wrap in runuser)
                                        --secret-env GUEST=HOST (value read on the host)
                        CpCmd           machine cp SRC NAME:PATH [--mode OCTAL --uid N --gid N]
                        LsCmd           machine ls --json   (objects with name, state, labels)
                        StopCmd         machine stop --name NAME
                        DeleteCmd       machine delete --name NAME --force
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field

from ..errors import BottleError

__all__ = [
    "EXECUTABLE", "Machine", "pack_create_argv", "machine_create_argv", "machine_start_argv",
    "machine_exec_argv", "machine_cp_argv", "machine_ls_argv", "machine_stop_argv",
    "machine_delete_argv", "as_user", "run", "list_machines", "parse_machines",
]

EXECUTABLE = "smolvm"


def pack_create_argv(image: str, output_stub: str) -> list[str]:
    """``output_stub`` must not end in ``.smolmachine``: smolvm writes ``<stub>.smolmachine`` itself."""
    if output_stub.endswith(".smolmachine"):
        raise ValueError("smolvm pack create --output names the stub, not the .smolmachine payload")
    return [EXECUTABLE, "pack", "create", "--image", image, "--output", output_stub]


def machine_create_argv(name: str, pack: str, *, allow_cidrs: list[str], labels: dict[str, str],
                        env: dict[str, str], secret_env: dict[str, str] | None = None,
                        workdir: str | None = None, cpus: int | None = None,
                        mem_mib: int | None = None) -> list[str]:
    """``secret_env`` maps guest variable -> host variable: smolvm resolves it at each start
    and persists only the reference, so host values never sit in an argv or a record."""
    argv = [EXECUTABLE, "machine", "create", "--name", name, "--from", pack]
    for cidr in allow_cidrs:
        argv += ["--allow-cidr", cidr]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{key}={value}"]
    for key, value in sorted(env.items()):
        argv += ["--env", f"{key}={value}"]
    for guest, host in sorted((secret_env or {}).items()):
        argv += ["--secret-env", f"{guest}={host}"]
    if workdir:
        argv += ["--workdir", workdir]
    if cpus:
        argv += ["--cpus", str(cpus)]
    if mem_mib:
        argv += ["--mem", str(mem_mib)]
    return argv


def machine_start_argv(name: str) -> list[str]:
    return [EXECUTABLE, "machine", "start", "--name", name]


def as_user(user: str, argv: list[str]) -> list[str]:
    """``machine exec`` runs as root; other users go through util-linux's runuser.

    Not ``runuser -l``: a login shell would drop the proxy and CA variables the
    machine was created with. Only HOME is set, so Claude Code finds its config.
    """
    if user == "root":
        return list(argv)
    return ["runuser", "-u", user, "--", "env", f"HOME=/home/{user}", *argv]


def machine_exec_argv(name: str, argv: list[str], *, user: str = "root", interactive: bool = False,
                      tty: bool = False, workdir: str | None = None) -> list[str]:
    out = [EXECUTABLE, "machine", "exec", "--name", name]
    if interactive:
        out.append("-i")
    if tty:
        out.append("-t")
    if workdir:
        out += ["--workdir", workdir]
    return out + ["--", *as_user(user, argv)]


def machine_cp_argv(name: str, local: str, guest_path: str, *, mode: int | None = None,
                    uid: int | None = None, gid: int | None = None) -> list[str]:
    argv = [EXECUTABLE, "machine", "cp", local, f"{name}:{guest_path}"]
    if mode is not None:
        argv += ["--mode", f"{mode:o}"]
    if uid is not None:
        argv += ["--uid", str(uid)]
    if gid is not None:
        argv += ["--gid", str(gid)]
    return argv


def machine_ls_argv() -> list[str]:
    return [EXECUTABLE, "machine", "ls", "--json"]


def machine_stop_argv(name: str) -> list[str]:
    return [EXECUTABLE, "machine", "stop", "--name", name]


def machine_delete_argv(name: str) -> list[str]:
    return [EXECUTABLE, "machine", "delete", "--name", name, "--force"]


def run(argv: list[str], what: str, *, capture: bool = True, check: bool = True,
        input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run one smolvm command; a failure is a BottleError saying what we were doing."""
    if shutil.which(argv[0]) is None:
        raise BottleError(f"`{argv[0]}` is not on PATH; install smolvm to {what}")
    result = subprocess.run(argv, capture_output=capture, input=input)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or b"").decode(errors="replace").strip()[-800:] if capture else ""
        raise BottleError(f"smolvm failed to {what} (exit {result.returncode})"
                          + (f": {detail}" if detail else ""))
    return result


@dataclass(frozen=True)
class Machine:
    name: str
    state: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"


def parse_machines(text: str) -> list[Machine]:
    """The JSON array ``machine ls --json`` prints (``[]`` when there are none)."""
    try:
        raw = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise BottleError(f"`smolvm machine ls --json` printed something that is not JSON: {exc}") from None
    return [Machine(str(m["name"]), str(m.get("state", "unknown")), dict(m.get("labels") or {}))
            for m in raw if isinstance(m, dict) and "name" in m]


def list_machines() -> list[Machine]:
    return parse_machines(run(machine_ls_argv(), "list machines").stdout.decode())
