"""Pure renderers: a plan (plus image refs and host paths) in, config file texts out.

Nothing here touches Docker or the filesystem; the render stage writes what
these return, and the up stage applies it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from . import labels, sidecar
from .plan import PLACEHOLDER, Plan

__all__ = ["ImageRefs", "HostLayout", "render_routes", "render_supervisord", "render_supervise_config",
           "render_compose", "render_all", "agent_environment", "digest_of", "COMPOSE_FILE",
           "ROUTES_FILE", "AGENT_PROMPT_PATH", "AGENT_CA_PATH"]

COMPOSE_FILE = "docker-compose.yml"
ROUTES_FILE = "routes.yaml"
SUPERVISORD_FILE = "supervisord.conf"
SUPERVISE_FILE = "supervise.json"
GIT_GATE_FILE = "git-gate.json"
AGENT_HOME = "/home/node"
AGENT_PROMPT_PATH = f"{AGENT_HOME}/.claude-bottle/prompt.md"
AGENT_CA_PATH = "/etc/ssl/certs/claude-bottle-ca.pem"
UPSTREAM_CA_IN_SIDECAR = "/run/claude-bottle/upstream-ca.pem"


@dataclass(frozen=True)
class ImageRefs:
    agent: str
    sidecars: str


@dataclass(frozen=True)
class HostLayout:
    """Host paths the compose file mounts."""
    rendered: str
    ca: str
    logs: str
    queue: str
    upstream_ca: str | None = None
    extra_mounts: tuple[tuple[str, str, bool], ...] = ()  # (host, container, read_only)


def render_routes(plan: Plan) -> str:
    import yaml

    routes = []
    for r in plan.routes:
        route: dict[str, Any] = {"host": r.host, "dlp": r.dlp}
        if r.path_allowlist:
            route["path_allowlist"] = list(r.path_allowlist)
        if r.methods:
            route["methods"] = list(r.methods)
        if r.auth:
            auth: dict[str, Any] = {"scheme": r.auth.scheme, "token_env": r.auth.token_ref,
                                    "placeholder": PLACEHOLDER}
            if r.auth.header:
                auth["header"] = r.auth.header
            route["auth"] = auth
        if r.allow_cidrs:
            route["allow_cidrs"] = list(r.allow_cidrs)
        routes.append(route)
    header = f"# Rendered by claude-bottle from bottle '{plan.bottle}' for {plan.slug}; do not edit.\n"
    return header + yaml.safe_dump({"version": 1, "routes": routes}, sort_keys=False)


def _program(name: str, command: str, env: dict[str, str] | None = None, user: str = sidecar.DAEMON_USER) -> str:
    lines = [
        f"[program:{name}]",
        f"command={command}",
        f"user={user}",
        "autorestart=true",
        "startsecs=1",
        "stopasgroup=true",
        "killasgroup=true",
        f"stdout_logfile={sidecar.LOG_DIR}/{name}.log",
        "stdout_logfile_maxbytes=5MB",
        "redirect_stderr=true",
    ]
    base_env = {"HOME": f"/home/{sidecar.DAEMON_USER}", **(env or {})}
    lines.append("environment=" + ",".join(f'{k}="{v}"' for k, v in base_env.items()))
    return "\n".join(lines) + "\n"


def egress_command(upstream_ca: bool) -> str:
    parts = [
        f"{sidecar.VENV}/bin/mitmdump",
        f"--mode regular@{sidecar.EGRESS_PORT}",
        f"--set confdir=/home/{sidecar.DAEMON_USER}/.mitmproxy",
        "--set connection_strategy=lazy",
        "--set block_global=false",
        "--quiet",
        f"-s {sidecar.MITM_ENTRY_LINK}",
    ]
    if upstream_ca:
        parts.append(f"--set ssl_verify_upstream_trusted_ca={UPSTREAM_CA_IN_SIDECAR}")
    return " ".join(parts)


def render_supervisord(plan: Plan, *, upstream_ca: bool, git_gate_command: str | None,
                       supervise_command: str | None) -> str:
    head = f"""; Rendered by claude-bottle for {plan.slug}; do not edit.
[supervisord]
nodaemon=true
user=root
logfile={sidecar.LOG_DIR}/supervisord.log
pidfile=/run/supervisord.pid

; The control socket is a file only root in the bundle can open: no TCP listener,
; so nothing on either network can drive the supervisor.
[unix_http_server]
file=/run/supervisord.sock
chmod=0700

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix:///run/supervisord.sock

"""
    programs = [_program("egress", egress_command(upstream_ca), {
        "EGRESS_ROUTES_FILE": sidecar.ROUTES_FILE,
        "EGRESS_DECISION_LOG": f"{sidecar.LOG_DIR}/egress.jsonl",
    })]
    if git_gate_command:
        programs.append(_program("git-gate", git_gate_command))
    if supervise_command:
        # supervisord hands every child its own environment, tokens included: start clean.
        clean = (f"/usr/bin/env -i PATH={sidecar.VENV}/bin:/usr/bin:/bin HOME=/tmp "
                 f"CLAUDE_BOTTLE_SCHEMAS={sidecar.SCHEMAS} {supervise_command}")
        programs.append(_program("supervise", clean, user=sidecar.SUPERVISE_USER))
    return head + "\n".join(programs)


def render_supervise_config(plan: Plan) -> str:
    return json.dumps({
        "slug": plan.slug,
        "listen_host": "supervise",
        "port": sidecar.SUPERVISE_PORT,
        "queue_dir": sidecar.QUEUE_DIR,
        "timeout_seconds": plan.supervise_timeout,
        "egress_introspect_url": "http://_egress.local/routes",
        "egress_proxy": f"http://127.0.0.1:{sidecar.EGRESS_PORT}",
    }, indent=2, sort_keys=True) + "\n"


def agent_environment(plan: Plan) -> dict[str, str]:
    proxy = f"http://egress:{sidecar.EGRESS_PORT}"
    no_proxy = "localhost,127.0.0.1,::1,git-gate,supervise"
    env: dict[str, str] = {
        # Both cases: curl honours only lowercase http_proxy (httpoxy), other tools only uppercase.
        "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "NO_PROXY": no_proxy,
        "http_proxy": proxy, "https_proxy": proxy, "no_proxy": no_proxy,
        "NODE_EXTRA_CA_CERTS": AGENT_CA_PATH,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_BOTTLE_SLUG": plan.slug,
    }
    for route in plan.routes:
        if route.auth and route.auth.agent_env:
            env[route.auth.agent_env] = PLACEHOLDER
    for var in plan.env:
        if var.value is not None:
            env[var.name] = var.value
    return env


def _host_env_for_agent(plan: Plan) -> list[str]:
    """``from_host`` variables: compose copies the value from its own environment at up time."""
    return [f"{v.name}=${{{v.from_host}}}" for v in plan.env if v.from_host]


def render_compose(plan: Plan, images: ImageRefs, layout: HostLayout, *, runtime: str | None) -> str:
    import yaml

    project = plan.project

    def named(obj: str) -> str:
        return f"{project}-{obj}"

    def lab(role: str | None = None) -> dict[str, str]:
        return labels.managed_labels(slug=plan.slug, backend="docker", role=role)

    sidecar_env = {
        "CLAUDE_BOTTLE_SLUG": plan.slug,
    }
    sidecar_environment = [f"{k}={v}" for k, v in sidecar_env.items()]
    # Real tokens: names only; compose takes the values from its own environment at up time,
    # so they are never written to disk and never reach the agent service.
    sidecar_environment += sorted(set(plan.token_refs))
    volumes = [
        f"{layout.rendered}/{ROUTES_FILE}:{sidecar.ROUTES_FILE}:ro",
        f"{layout.rendered}/{SUPERVISORD_FILE}:{sidecar.SUPERVISORD_CONF}:ro",
        f"{layout.rendered}/{SUPERVISE_FILE}:{sidecar.SUPERVISE_CONF}:ro",
        f"{layout.rendered}/{GIT_GATE_FILE}:{sidecar.GIT_GATE_CONF}:ro",
        f"{layout.ca}:{sidecar.CA_DIR}:ro",
        f"{layout.logs}:{sidecar.LOG_DIR}",
        f"{layout.queue}:{sidecar.QUEUE_DIR}",
        f"gitmirrors:{sidecar.GIT_DIR}",
    ]
    if layout.upstream_ca:
        volumes.append(f"{layout.upstream_ca}:{UPSTREAM_CA_IN_SIDECAR}:ro")
    volumes += [f"{host}:{inside}" + (":ro" if ro else "") for host, inside, ro in layout.extra_mounts
                if inside not in {v.split(":")[1] for v in volumes}]

    sidecars: dict[str, Any] = {
        "image": images.sidecars,
        "container_name": named("sidecars"),
        "hostname": "sidecars",
        "entrypoint": [f"{sidecar.VENV}/bin/python", "-m", "bottle_tasks.sidecar.boot"],
        "command": [],
        "labels": lab("sidecars"),
        "environment": sidecar_environment,
        "volumes": volumes,
        "networks": {"internal": {"aliases": ["egress", "git-gate", "supervise"]}, "egress": {}},
        "read_only": True,
        "tmpfs": ["/tmp", "/run", f"/home/{sidecar.DAEMON_USER}:mode=0755"],
        "cap_drop": ["ALL"],
        # boot (root) chowns its writable dirs and copies the CA for the daemon user;
        # supervisord switches each daemon to that user and must signal it.
        # DAC_READ_SEARCH: boot reads the operator's 0600 git keys to hand copies to the
        # daemon user; the daemons themselves run without any capability.
        "cap_add": ["CHOWN", "SETUID", "SETGID", "KILL", "DAC_READ_SEARCH"],
        "security_opt": ["no-new-privileges:true"],
        "healthcheck": {
            "test": ["CMD", f"{sidecar.VENV}/bin/python", "-m", "bottle_tasks.sidecar.health"],
            "interval": "2s", "timeout": "5s", "retries": 30, "start_period": "2s",
        },
        "pids_limit": 512,
    }
    agent_env = [f"{k}={v}" for k, v in sorted(agent_environment(plan).items())] + _host_env_for_agent(plan)
    agent: dict[str, Any] = {
        "image": images.agent,
        "container_name": named("agent"),
        "hostname": plan.slug,
        "command": ["sleep", "infinity"],
        "init": True,
        "user": "node",
        "working_dir": "/workspace",
        "labels": lab("agent"),
        "environment": agent_env,
        "volumes": ["home:/home/node", "workspace:/workspace", "certs:/etc/ssl/certs"],
        "tmpfs": ["/tmp:mode=1777", "/run:mode=755"],
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "networks": ["internal"],
        # The embedded resolver still answers for the bundle's aliases; names it would
        # forward outside go to a loopback address with nothing listening, so DNS
        # cannot be used as a side channel.
        "dns": ["127.0.0.1"],
        "mem_limit": plan.resources.memory,
        "cpus": plan.resources.cpus,
        "pids_limit": plan.resources.pids,
        "depends_on": ["sidecars"],
    }
    if runtime and runtime != "runc":
        agent["runtime"] = runtime
    compose = {
        "name": project,
        "services": {"sidecars": sidecars, "agent": agent},
        "networks": {
            "internal": {"name": named("internal"), "internal": True, "labels": lab("internal")},
            "egress": {"name": named("egress"), "labels": lab("egress")},
        },
        "volumes": {
            name: {"name": named(name), "labels": lab(name)}
            for name in ("home", "workspace", "certs", "gitmirrors")
        },
    }
    header = f"# Rendered by claude-bottle for {plan.slug} (bottle '{plan.bottle}'); do not edit.\n"
    return header + yaml.safe_dump(compose, sort_keys=False, width=1000)


def digest_of(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()


def render_all(plan: Plan, images: ImageRefs, layout: HostLayout, *, runtime: str | None,
               git_gate_command: str | None, supervise_command: str | None) -> dict[str, str]:
    """Every rendered file by name (the git gate adds its own). ``routes.yaml`` changes apply live."""
    return {
        COMPOSE_FILE: render_compose(plan, images, layout, runtime=runtime),
        ROUTES_FILE: render_routes(plan),
        SUPERVISORD_FILE: render_supervisord(plan, upstream_ca=bool(layout.upstream_ca),
                                             git_gate_command=git_gate_command,
                                             supervise_command=supervise_command),
        SUPERVISE_FILE: render_supervise_config(plan),
    }
