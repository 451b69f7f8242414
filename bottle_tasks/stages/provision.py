"""provision:<agent> — CA trust, gitconfig, MCP registration, prompt and skills in the agent.

    up:A ─> provision:A ─> start:A

Up to date when the running agent container is the one last provisioned and
nothing provisioned into it (plan, CA, gitconfig) changed.
"""
from __future__ import annotations

from ..actions import action
from ..instance import Instance
from ..locks import hold_slug_lock
from ..provision import DockerTransport, inputs_digest, provision_steps
from .common import dep, per_agent

__all__ = ["task_provision", "provision_agent", "provision_smolmachines", "gitconfig_for"]

DOC = "provision the running agent container (CA, git, MCP server, prompt, skills)"
RECORD = "provision.json"


def gitconfig_for(plan) -> str:
    from ..gitgate.config import agent_gitconfig
    return agent_gitconfig(plan)


def clones_for(plan) -> list[tuple[str, list[str]]]:
    """(target dir, clone argv) for each repository the agent works on, from the gate."""
    from ..gitgate.config import clone_commands
    return [(argv[-1], argv) for argv in clone_commands(plan)]


def _inputs(inst: Instance) -> tuple:
    plan = inst.plan()
    ca = (inst.ca / "ca.pem").read_bytes()
    gitconfig = gitconfig_for(plan)
    return plan, ca, gitconfig, inputs_digest(plan, ca, gitconfig)


def provision_is_current(slug: str) -> bool:
    inst = Instance(slug)
    record = inst.read_record(RECORD)
    if not record:
        return False
    try:
        agent = inst.containers().get("agent")
        *_, digest = _inputs(inst)
    except Exception:
        return False
    return agent is not None and agent.status == "running" and record == {"container": agent.id, "inputs": digest}


def provision_agent(slug: str) -> None:
    hold_slug_lock(slug)
    inst = Instance(slug)
    plan, ca, gitconfig, digest = _inputs(inst)
    agent = inst.running("agent")
    try:
        provision_steps(DockerTransport(agent), plan, ca, gitconfig, clones_for(plan))
    except BaseException:
        inst.preserve_marker.touch()
        raise
    inst.write_record(RECORD, {"container": agent.id, "inputs": digest})
    print(f"{slug} is provisioned")


def provision_smolmachines(slug: str) -> None:
    """The same steps as docker, through ``smolvm machine cp/exec``."""
    from ..backends.smolmachines import SmolvmTransport, machine_name
    hold_slug_lock(slug)
    inst = Instance(slug)
    plan, ca, gitconfig, digest = _inputs(inst)
    try:
        provision_steps(SmolvmTransport(machine_name(slug)), plan, ca, gitconfig, clones_for(plan))
    except BaseException:
        inst.preserve_marker.touch()
        raise
    up = inst.read_record("smolmachines.json") or {}
    inst.write_record(RECORD, {"machine": machine_name(slug), "started_at": up.get("started_at"),
                               "inputs": digest})
    print(f"{slug} is provisioned")


def smolmachines_provision_is_current(slug: str) -> bool:
    inst = Instance(slug)
    record = inst.read_record(RECORD)
    up = inst.read_record("smolmachines.json")
    if not record or not up:
        return False
    try:
        *_, digest = _inputs(inst)
    except Exception:
        return False
    return record.get("inputs") == digest and record.get("started_at") == up.get("started_at")


def task_provision():
    def task(entry):
        if entry.plan.backend == "smolmachines":
            return {"doc": f"{DOC} ({entry.name}, smolvm microVM)",
                    "actions": [action(provision_smolmachines, entry.name)],
                    "uptodate": [(smolmachines_provision_is_current, [entry.name])], "verbosity": 2}
        return {"actions": [action(provision_agent, entry.name)],
                "uptodate": [(provision_is_current, [entry.name])], "verbosity": 2}
    yield from per_agent("provision", DOC, lambda e: [dep("plan", e), dep("up", e)], task)

