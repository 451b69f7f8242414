"""The plan: everything one bottle instance needs, as one frozen value.

``make_plan`` is pure: it takes parsed manifests, the *names* of the host's
environment variables (never their values) and the run options, and returns a
:class:`Plan`. Every later stage reads ``plan.json`` and nothing else, so what
is in the plan is exactly what can change a bottle.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import BottleError
from .hostnames import normalise_host
from .manifests import DLP_LOG_BY_DEFAULT, AgentManifest, ResolvedBottle

__all__ = [
    "EnvVar", "Auth", "Route", "Remote", "GitPlan", "Capabilities", "Resources",
    "Skill", "PlanOptions", "Plan", "make_plan", "plan_from_json", "BACKENDS",
    "PLACEHOLDER", "DEFAULT_GIT_TOKEN_USER",
]

BACKENDS = ("docker", "smolmachines")
# The agent holds this instead of a real token; the proxy swaps it on the way out.
PLACEHOLDER = "bottle-placeholder"


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None = None
    from_host: str | None = None


@dataclass(frozen=True)
class Auth:
    scheme: str
    token_ref: str
    header: str | None = None
    agent_env: str | None = None


@dataclass(frozen=True)
class Route:
    host: str
    path_allowlist: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None
    auth: Auth | None = None
    dlp: str = "block"
    allow_cidrs: tuple[str, ...] = ()


DEFAULT_GIT_TOKEN_USER = "x-access-token"


@dataclass(frozen=True)
class Remote:
    name: str
    upstream: str
    identity_file: str | None = None
    known_host_key: str | None = None
    protected_branches: tuple[str, ...] = ()
    push_prefix: str | None = None
    # An https upstream's token: the host env var holding it, sent by the gate as HTTP basic auth.
    token_ref: str | None = None
    token_user: str | None = None


@dataclass(frozen=True)
class GitPlan:
    user_name: str | None = None
    user_email: str | None = None
    remotes: tuple[Remote, ...] = ()


@dataclass(frozen=True)
class Capabilities:
    apt: tuple[str, ...] = ()
    npm: tuple[str, ...] = ()
    dockerfile: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.apt or self.npm or self.dockerfile)


@dataclass(frozen=True)
class Resources:
    memory: str = "4g"
    cpus: float = 2.0
    pids: int = 1024


@dataclass(frozen=True)
class Skill:
    name: str
    path: str


@dataclass(frozen=True)
class PlanOptions:
    backend: str = "docker"
    workspace: str | None = None


@dataclass(frozen=True)
class Plan:
    slug: str
    agent: str
    agent_file: str
    description: str
    prompt: str
    model: str | None
    claude_args: tuple[str, ...]
    bottle: str
    bottle_files: tuple[str, ...]
    env: tuple[EnvVar, ...]
    skills: tuple[Skill, ...]
    routes: tuple[Route, ...]
    git: GitPlan
    supervise_enabled: bool
    supervise_timeout: int
    capabilities: Capabilities
    resources: Resources
    backend: str
    workspace: str | None = None
    version: int = field(default=1)

    @property
    def project(self) -> str:
        """The compose project name, also the prefix of every container and network."""
        return f"claude-bottle-{self.slug}"

    @property
    def token_refs(self) -> tuple[str, ...]:
        """Every host env var holding a real credential: route tokens, then git upstream tokens."""
        refs = [r.auth.token_ref for r in self.routes if r.auth]
        refs += [r.token_ref for r in self.git.remotes if r.token_ref]
        return tuple(dict.fromkeys(refs))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def _env(raw: Mapping[str, Any]) -> list[EnvVar]:
    out = []
    for name, value in sorted(raw.items()):
        if isinstance(value, Mapping):
            out.append(EnvVar(name=name, from_host=value["from_host"]))
        else:
            out.append(EnvVar(name=name, value=str(value)))
    return out


def _route(raw: Mapping[str, Any], default_cidrs: tuple[str, ...] = ()) -> Route:
    host = normalise_host(raw["host"])
    auth = raw.get("auth")
    return Route(
        host=host,
        path_allowlist=tuple(raw["path_allowlist"]) if raw.get("path_allowlist") else None,
        methods=tuple(raw["methods"]) if raw.get("methods") else None,
        auth=Auth(scheme=auth["scheme"], token_ref=auth["token_ref"], header=auth.get("header"),
                  agent_env=auth.get("agent_env")) if auth else None,
        dlp=raw.get("dlp") or ("log" if host in DLP_LOG_BY_DEFAULT else "block"),
        allow_cidrs=tuple(raw.get("allow_cidrs") or default_cidrs),
    )


def _remote(raw: Mapping[str, Any]) -> Remote:
    auth = raw.get("auth") or {}
    return Remote(
        name=raw["name"], upstream=raw["upstream"], identity_file=raw.get("identity_file"),
        known_host_key=raw.get("known_host_key"),
        protected_branches=tuple(raw.get("protected_branches") or ()),
        push_prefix=raw.get("push_prefix"),
        token_ref=auth.get("token_ref"),
        token_user=(auth.get("username") or DEFAULT_GIT_TOKEN_USER) if auth else None,
    )


def make_plan(
    agent: AgentManifest,
    bottle: ResolvedBottle,
    skill_paths: Mapping[str, Path],
    host_env_names: frozenset[str],
    options: PlanOptions,
) -> Plan:
    """Resolve an agent in its bottle into a :class:`Plan`, or raise naming every missing input."""
    meta, bmeta = agent.meta, bottle.meta
    bottle_file = str(bottle.chain[-1].path)
    problems: list[str] = []
    if options.backend not in BACKENDS:
        problems.append(f"backend '{options.backend}' is unknown; choose one of: {', '.join(BACKENDS)}")

    env_by_name = {e.name: e for e in _env(bmeta.get("env", {}))}
    env_by_name.update({e.name: e for e in _env(meta.get("env", {}))})
    for var in env_by_name.values():
        if var.from_host and var.from_host not in host_env_names:
            problems.append(f"env.{var.name}: host environment variable {var.from_host} is not set")

    egress = bmeta.get("egress") or {}
    routes = tuple(_route(r, tuple(egress.get("allow_cidrs") or ())) for r in egress.get("routes", []))
    for i, route in enumerate(routes):
        if route.auth and route.auth.token_ref not in host_env_names:
            problems.append(
                f"egress.routes[{i}] ({route.host}).auth.token_ref: host environment variable "
                f"{route.auth.token_ref} is not set (bottle '{bottle.name}', {bottle_file}); "
                f"export it before starting, or remove the route's auth"
            )
        if route.auth and route.auth.agent_env in env_by_name:
            problems.append(f"egress.routes[{i}] ({route.host}).auth.agent_env: "
                            f"{route.auth.agent_env} is also set in env; the agent must only see the placeholder")

    git_raw = bmeta.get("git") or {}
    remotes = tuple(_remote(r) for r in git_raw.get("remotes", []))
    for i, remote in enumerate(remotes):
        if remote.upstream.startswith("ssh://") or (":" in remote.upstream and "@" in remote.upstream
                                                      and "://" not in remote.upstream):
            if not remote.known_host_key:
                problems.append(f"git.remotes[{i}] ({remote.name}).known_host_key: an ssh upstream needs the "
                                "upstream's host key (no trust on first use); add the line from "
                                "`ssh-keyscan <host>` that you have verified")
        if remote.token_ref:
            where = f"git.remotes[{i}] ({remote.name}).auth"
            if not remote.upstream.lower().startswith("https://"):
                problems.append(f"{where}: a token is only sent to an https:// upstream (it would travel in "
                                f"clear or to the wrong transport); '{remote.upstream}' is not one")
            if remote.token_ref not in host_env_names:
                problems.append(f"{where}.token_ref: host environment variable {remote.token_ref} is not set "
                                f"(bottle '{bottle.name}', {bottle_file}); export it before starting, "
                                "or remove the remote's auth")
    if problems:
        raise BottleError(f"cannot plan agent '{agent.name}' ({agent.path}):\n"
                          + "\n".join(f"  - {p}" for p in problems))

    user = git_raw.get("user") or {}
    caps = bmeta.get("capabilities") or {}
    res = bmeta.get("resources") or {}
    sup = bmeta.get("supervise") or {}
    defaults = Resources()
    return Plan(
        slug=agent.name,
        agent=agent.name,
        agent_file=str(agent.path),
        description=meta.get("description", ""),
        prompt=agent.prompt,
        model=meta.get("model"),
        claude_args=tuple(meta.get("claude_args") or ()),
        bottle=bottle.name,
        bottle_files=tuple(str(b.path) for b in bottle.chain),
        env=tuple(env_by_name[k] for k in sorted(env_by_name)),
        skills=tuple(Skill(name=n, path=str(skill_paths[n])) for n in meta.get("skills") or ()),
        routes=routes,
        git=GitPlan(user_name=user.get("name"), user_email=user.get("email"), remotes=remotes),
        supervise_enabled=sup.get("enabled", True),
        supervise_timeout=sup.get("timeout_seconds", 600),
        capabilities=Capabilities(apt=tuple(caps.get("apt", ())), npm=tuple(caps.get("npm", ())),
                                  dockerfile=tuple(caps.get("dockerfile", ()))),
        resources=Resources(memory=str(res.get("memory", defaults.memory)),
                            cpus=float(res.get("cpus", defaults.cpus)),
                            pids=int(res.get("pids", defaults.pids))),
        backend=options.backend,
        workspace=options.workspace,
    )


def plan_from_json(text: str) -> Plan:
    """Inverse of :meth:`Plan.to_json`."""
    d = json.loads(text)
    routes = tuple(
        Route(**{**r, "path_allowlist": tuple(r["path_allowlist"]) if r["path_allowlist"] else None,
                 "methods": tuple(r["methods"]) if r["methods"] else None,
                 "auth": Auth(**r["auth"]) if r["auth"] else None,
                 "allow_cidrs": tuple(r["allow_cidrs"])})
        for r in d["routes"]
    )
    git = d["git"]
    return Plan(**{
        **d,
        "claude_args": tuple(d["claude_args"]),
        "bottle_files": tuple(d["bottle_files"]),
        "env": tuple(EnvVar(**e) for e in d["env"]),
        "skills": tuple(Skill(**s) for s in d["skills"]),
        "routes": routes,
        "git": GitPlan(user_name=git["user_name"], user_email=git["user_email"],
                       remotes=tuple(Remote(**{**r, "protected_branches": tuple(r["protected_branches"])})
                                     for r in git["remotes"])),
        "capabilities": Capabilities(**{k: tuple(v) for k, v in d["capabilities"].items()}),
        "resources": Resources(**d["resources"]),
    })
