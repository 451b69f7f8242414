"""provision:<agent> — CA trust, gitconfig, MCP registration, prompt and skills in the agent.

    up:A ─> provision:A ─> start:A

Up to date when the running agent container is the one last provisioned and
nothing provisioned into it (plan, CA, gitconfig) changed.
"""
from __future__ import annotations

from ..actions import action
from ..graph import agents
from ..instance import Instance
from ..locks import hold_slug_lock
from ..provision import DockerTransport, inputs_digest, provision_steps
from .common import broken, dep, group

__all__ = ["task_provision", "provision_agent", "gitconfig_for"]

DOC = "provision the running agent container (CA, git, MCP server, prompt, skills)"
RECORD = "provision.json"


def gitconfig_for(plan) -> str:
    try:
        from ..gitgate.config import agent_gitconfig
    except ImportError:
        lines = ["[user]"]
        if plan.git.user_name:
            lines.append(f"\tname = {plan.git.user_name}")
        if plan.git.user_email:
            lines.append(f"\temail = {plan.git.user_email}")
        return "\n".join(lines) + "\n" if len(lines) > 1 else ""
    return agent_gitconfig(plan)


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
        provision_steps(DockerTransport(agent), plan, ca, gitconfig)
    except BaseException:
        inst.preserve_marker.touch()
        raise
    inst.write_record(RECORD, {"container": agent.id, "inputs": digest})
    print(f"{slug} is provisioned")


def task_provision():
    yield group("provision", DOC)
    for entry in agents():
        deps = [dep("plan", entry), dep("up", entry)]
        if entry.plan is None:
            yield broken(entry, DOC, deps)
            continue
        yield {"name": entry.name, "doc": f"{DOC} ({entry.name})", "actions": [action(provision_agent, entry.name)],
               "task_dep": deps, "uptodate": [(provision_is_current, [entry.name])], "verbosity": 2}
