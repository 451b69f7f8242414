"""The smolmachines backend: the agent as a smolvm microVM, the sidecars bundle on docker.

    render:A ──> rendered/docker-compose.yml ──bundle_compose()──> rendered/bundle-compose.yml
                 (agent service dropped; the bundle on network claude-bottle-<slug>-bundle
                  at a pinned IP; every label says backend smolmachines)
    pack:A ────> store/<image id>.smolmachine ──smolvm machine create --from ...
                                                  --allow-cidr <bundle ip>/32──> machine claude-bottle-<slug>
    provision:A  the docker backend's provision_steps over SmolvmTransport (machine cp / exec)
    start:A      smolvm machine exec -it -- runuser -u node -- claude ...

The machine can reach one address: the bundle, which is its proxy, git gate
and MCP server. Their hostnames are written into the machine's /etc/hosts,
since the VM does not share docker's embedded DNS.
"""
from __future__ import annotations

import hashlib
import ipaddress
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterable

import yaml

from .. import labels, sidecar
from ..errors import BottleError
from ..instance import Instance
from ..provision import HomeFile
from ..render import agent_environment
from . import smolvm

__all__ = [
    "BACKEND", "BUNDLE_COMPOSE", "RECORD", "machine_name", "pick_subnet", "bundle_compose",
    "machine_env", "hosts_lines", "SmolvmTransport", "bring_up", "is_up", "stop", "claude_argv",
    "machines_of_home", "pack_for", "smolvm_on_path",
]

BACKEND = "smolmachines"
BUNDLE_COMPOSE = "bundle-compose.yml"
RECORD = "smolmachines.json"
BUNDLE_NETWORK = "bundle"
BUNDLE_HOSTS = ("egress", "git-gate", "supervise")
# Pinned-IP networks come from this range, a /28 per bottle, away from docker's default pools.
SUBNET_POOL = ipaddress.ip_network("10.213.0.0/16")
SUBNET_PREFIX = 28


def machine_name(slug: str) -> str:
    return f"claude-bottle-{slug}"


# -- pure: subnet, compose, environment ---------------------------------------------------------

def pick_subnet(slug: str, used: Iterable[str]) -> ipaddress.IPv4Network:
    """A /28 in :data:`SUBNET_POOL` overlapping none of ``used``; the same slug prefers the same one."""
    taken = [ipaddress.ip_network(u, strict=False) for u in used]
    candidates = list(SUBNET_POOL.subnets(new_prefix=SUBNET_PREFIX))
    start = int(hashlib.sha256(slug.encode()).hexdigest(), 16) % len(candidates)
    for net in candidates[start:] + candidates[:start]:
        if not any(net.overlaps(t) for t in taken):
            return net
    raise BottleError(f"no free /{SUBNET_PREFIX} left in {SUBNET_POOL} for the bundle network of {slug}; "
                      "remove unused docker networks (`doit cleanup`)")


def bundle_ip(subnet: ipaddress.IPv4Network) -> str:
    return str(subnet.network_address + 2)


def _relabel(obj: dict) -> None:
    if isinstance(obj.get("labels"), dict):
        obj["labels"] = {**obj["labels"], labels.BACKEND: BACKEND}


def bundle_compose(docker_compose: str, slug: str, subnet: ipaddress.IPv4Network) -> str:
    """The docker backend's compose project minus the agent, with the bundle at a pinned IP."""
    doc = yaml.safe_load(docker_compose)
    services = doc["services"]
    services.pop("agent", None)
    side = services["sidecars"]
    side["networks"] = {BUNDLE_NETWORK: {"ipv4_address": bundle_ip(subnet), "aliases": list(BUNDLE_HOSTS)},
                        "egress": {}}
    _relabel(side)
    project = doc.get("name") or machine_name(slug)
    internal = doc["networks"].pop("internal", {})
    doc["networks"][BUNDLE_NETWORK] = {
        "name": f"{project}-{BUNDLE_NETWORK}",
        "labels": {**internal.get("labels", {}), labels.BACKEND: BACKEND, labels.ROLE: BUNDLE_NETWORK},
        "ipam": {"config": [{"subnet": str(subnet)}]},
    }
    for net in doc["networks"].values():
        _relabel(net)
    doc["volumes"] = {k: v for k, v in doc.get("volumes", {}).items() if k == "gitmirrors"}
    for vol in doc["volumes"].values():
        _relabel(vol)
    header = f"# Rendered by claude-bottle for {slug} (smolmachines bundle); do not edit.\n"
    return header + yaml.safe_dump(doc, sort_keys=False, width=1000)


def machine_env(plan, ip: str) -> dict[str, str]:
    """The agent's environment, with the proxy named by IP (no docker DNS inside the VM)."""
    env = agent_environment(plan)
    proxy = f"http://{ip}:{sidecar.EGRESS_PORT}"
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[key] = proxy
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = env[key] + f",{ip}"
    return env


def hosts_lines(ip: str) -> str:
    return f"{ip} {' '.join(BUNDLE_HOSTS)}\n"


# -- the transport provision_steps uses --------------------------------------------------------

class SmolvmTransport:
    """provision.Transport over ``smolvm machine cp`` and ``smolvm machine exec``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, argv: list[str], user: str) -> tuple[int, str]:
        result = smolvm.run(smolvm.machine_exec_argv(self.name, argv, user=user, workdir="/"),
                            f"run {argv[0]} in {self.name}", check=False)
        return result.returncode, (result.stdout + result.stderr).decode(errors="replace")

    def put_files(self, directory: str, files: list[HomeFile]) -> None:
        dirs = sorted({str(Path(directory, f.path).parent) for f in files})
        owners = {str(Path(directory, f.path).parent): f.uid for f in files}
        for d in dirs:
            code, out = self.run(["install", "-d", "-o", str(owners[d]), "-g", str(owners[d]), d], "root")
            if code != 0:
                raise BottleError(f"could not create {self.name}:{d}: {out.strip()}")
        with tempfile.TemporaryDirectory(prefix="claude-bottle-cp-") as tmp:
            for i, f in enumerate(files):
                local = Path(tmp) / str(i)
                local.write_bytes(f.data)
                smolvm.run(smolvm.machine_cp_argv(self.name, str(local), str(Path(directory, f.path)),
                                                  mode=f.mode, uid=f.uid, gid=f.uid),
                           f"copy {f.path} into {self.name}:{directory}")


# -- launch, state, stop ------------------------------------------------------------------------

def _used_subnets(docker, own_network: str) -> list[str]:
    used = []
    for net in docker.networks.list():
        if net.name == own_network:
            continue
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Subnet") and ":" not in cfg["Subnet"]:
                used.append(cfg["Subnet"])
    return used


def machines_of_home() -> list[smolvm.Machine]:
    """Machines labelled by this home; other machines on the host are never listed or touched."""
    want = {labels.MANAGED: "true", labels.HOME: labels.home_id()}
    return [m for m in smolvm.list_machines() if all(m.labels.get(k) == v for k, v in want.items())]


def _machine(slug: str) -> smolvm.Machine | None:
    return next((m for m in machines_of_home() if m.name == machine_name(slug)), None)


def bring_up(slug: str, pack: Path, tokens: dict[str, str]) -> None:
    from ..compose import run_compose
    from ..dockerhost import client
    from ..stages.up import wait_healthy

    inst = Instance(slug)
    plan = inst.plan()
    record = inst.read_record(RECORD) or {}
    project_net = f"{inst.project}-{BUNDLE_NETWORK}"
    if record.get("subnet"):
        subnet = ipaddress.ip_network(record["subnet"])
    else:
        subnet = pick_subnet(slug, _used_subnets(client(), project_net))
    ip = bundle_ip(subnet)
    compose_file = inst.rendered / BUNDLE_COMPOSE
    compose_file.write_text(bundle_compose(inst.compose_file.read_text(), slug, subnet))
    print(f"starting the sidecars bundle of {slug} at {ip} (docker compose up)...", flush=True)
    run_compose(inst.project, compose_file, "up", "--detach", "--remove-orphans", "--quiet-pull", env=tokens)
    wait_healthy(inst)

    name = machine_name(slug)
    existing = _machine(slug)
    if existing is not None and record.get("pack") != str(pack):
        print(f"{name} was created from another pack; recreating it", flush=True)
        smolvm.run(smolvm.machine_delete_argv(name), f"delete {name}")
        existing = None
    if existing is None:
        secret = {v.name: v.from_host for v in plan.env if v.from_host}
        smolvm.run(smolvm.machine_create_argv(
            name, str(pack), allow_cidrs=[f"{ip}/32"],
            labels=labels.managed_labels(slug=slug, backend=BACKEND, role="agent"),
            env=machine_env(plan, ip), secret_env=secret, workdir="/workspace",
            cpus=max(1, int(plan.resources.cpus)), mem_mib=_mib(plan.resources.memory)),
            f"create the machine {name}")
    if existing is None or not existing.running:
        smolvm.run(smolvm.machine_start_argv(name), f"start {name}")
    t = SmolvmTransport(name)
    code, out = t.run(["sh", "-ec", f"grep -q ' egress ' /etc/hosts || printf '%s' '{hosts_lines(ip)}' >> /etc/hosts;"
                       " install -d -o 1000 -g 1000 /workspace"], "root")
    if code != 0:
        raise BottleError(f"could not point {name} at its bundle: {out.strip()}")
    inst.write_record(RECORD, {"subnet": str(subnet), "ip": ip, "pack": str(pack), "machine": name,
                               "bundle": _digest(compose_file), "started_at": time.time()})


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mib(memory: str) -> int:
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    raw = memory.strip().lower().rstrip("b")
    if raw and raw[-1] in units:
        return max(1, int(float(raw[:-1]) * units[raw[-1]]))
    return max(1, int(int(raw) / (1 << 20)))


def is_up(slug: str, pack: Path) -> bool:
    inst = Instance(slug)
    record = inst.read_record(RECORD)
    if not record or record.get("pack") != str(pack):
        return False
    side = inst.containers().get("sidecars")
    machine = _machine(slug)
    return bool(side is not None and side.status == "running" and machine is not None and machine.running)


def stop(slug: str) -> bool:
    """Stop the machine (its disk is kept) and take the bundle down; False when nothing ran."""
    from ..compose import run_compose

    inst = Instance(slug)
    compose_file = inst.rendered / BUNDLE_COMPOSE
    machine = _machine(slug) if smolvm_on_path() else None
    did = False
    if machine is not None and machine.running:
        smolvm.run(smolvm.machine_stop_argv(machine.name), f"stop {machine.name}")
        did = True
    if compose_file.exists() and inst.containers():
        run_compose(inst.project, compose_file, "down", "--remove-orphans", "--timeout", "5")
        did = True
    return did


def smolvm_on_path() -> bool:
    return shutil.which(smolvm.EXECUTABLE) is not None


def claude_argv(slug: str, claude_args: list[str], tty: bool) -> list[str]:
    from ..gitgate.config import session_dir
    from ..render import AGENT_PROMPT_PATH

    plan = Instance(slug).plan()
    argv = ["claude", "--append-system-prompt-file", AGENT_PROMPT_PATH]
    if plan.model:
        argv += ["--model", plan.model]
    argv += list(plan.claude_args) + claude_args
    return smolvm.machine_exec_argv(machine_name(slug), argv, user="node", interactive=True, tty=tty,
                                    workdir=session_dir(plan))


def pack_for(slug: str) -> Path:
    from .pipeline import agent_image, pack_artifact
    pack = pack_artifact(agent_image(slug)["id"])
    if not pack.is_file():
        raise BottleError(f"no microVM pack of {slug}'s image in the store ({pack}); run `doit pack:{slug}`")
    return pack
