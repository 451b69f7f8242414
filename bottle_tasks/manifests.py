"""Find, parse and validate agent and bottle manifests; resolve ``extends``.

Search order (first match wins):

    agents:  $CLAUDE_BOTTLE_HOME/agents, <workspace>/.claude-bottle/agents, examples/agents
    bottles: $CLAUDE_BOTTLE_HOME/bottles, examples/bottles
    skills:  $CLAUDE_BOTTLE_HOME/skills, <workspace>/.claude-bottle/skills, examples/skills

Bottles are policy, so a workspace (the code the agent works on) never
supplies one: ``<workspace>/.claude-bottle/bottles`` is not searched.
"""
from __future__ import annotations

import difflib
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import paths
from .errors import BottleError, ManifestError
from .frontmatter import parse_document
from .hostnames import hostname_problem, normalise_host
from .schema import validate

__all__ = [
    "SearchPaths", "AgentManifest", "BottleManifest", "ResolvedBottle",
    "default_search_paths", "discover_agents", "load_agent", "load_bottle_chain",
    "resolve_bottle", "find_skill",
]

# Hosts whose traffic is LLM prompts: code in a prompt is normal, so the DLP
# default there is to log rather than block.
DLP_LOG_BY_DEFAULT = frozenset({"api.anthropic.com"})


@dataclass(frozen=True)
class SearchPaths:
    agents: tuple[Path, ...]
    bottles: tuple[Path, ...]
    skills: tuple[Path, ...]


def default_search_paths(workspace: Path | None = None) -> SearchPaths:
    home = paths.state_home()
    examples = paths.examples_dir()
    ws = [Path(workspace) / ".claude-bottle"] if workspace else []
    return SearchPaths(
        agents=tuple([home / "agents", *[w / "agents" for w in ws], examples / "agents"]),
        bottles=(home / "bottles", examples / "bottles"),
        skills=tuple([home / "skills", *[w / "skills" for w in ws], examples / "skills"]),
    )


@dataclass(frozen=True)
class AgentManifest:
    name: str
    path: Path
    meta: Mapping[str, Any]
    prompt: str


@dataclass(frozen=True)
class BottleManifest:
    name: str
    path: Path
    meta: Mapping[str, Any]


@dataclass(frozen=True)
class ResolvedBottle:
    """A bottle with its ``extends`` chain merged, root first in ``chain``."""
    name: str
    chain: tuple[BottleManifest, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)


def _find(kind: str, name: str, dirs: tuple[Path, ...]) -> Path:
    for d in dirs:
        candidate = d / f"{name}.md"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.md")})
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean: {close[0]}?)" if close else ""
    where = ", ".join(str(d) for d in dirs)
    raise BottleError(f"no {kind} named '{name}'{hint}; looked in {where}")


def discover_agents(search: SearchPaths) -> dict[str, Path]:
    """Agent name -> manifest path, earlier search directories shadowing later ones."""
    found: dict[str, Path] = {}
    for d in search.agents:
        if d.is_dir():
            for p in sorted(d.glob("*.md")):
                found.setdefault(p.stem, p)
    return dict(sorted(found.items()))


def _read(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BottleError(f"cannot read {path}: {exc.strerror}") from None
    doc = parse_document(text, str(path))
    return doc.meta, doc.body


def load_agent(name: str, search: SearchPaths) -> AgentManifest:
    path = _find("agent", name, search.agents)
    meta, body = _read(path)
    problems = validate(meta, "agent.schema.json")
    if not problems and meta.get("name", name) != name:
        problems.append(f"name: '{meta['name']}' does not match the file name '{name}.md'")
    if problems:
        raise ManifestError(str(path), problems)
    return AgentManifest(name=name, path=path, meta=meta, prompt=body)


def _route_problems(routes: list[Mapping[str, Any]], default_cidrs: list[str] = ()) -> list[str]:
    problems: list[str] = []
    seen: dict[str, int] = {}
    for j, cidr in enumerate(default_cidrs):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            problems.append(f"egress.allow_cidrs[{j}]: '{cidr}' is not a CIDR such as 172.30.0.0/16")
    for i, route in enumerate(routes):
        where = f"egress.routes[{i}]"
        host = route.get("host")
        why = hostname_problem(host)
        if why:
            problems.append(f"{where}.host: '{host}' {why}")
            continue
        norm = normalise_host(host)
        if norm in seen:
            problems.append(f"{where}.host: '{host}' is already declared by egress.routes[{seen[norm]}]; "
                            "merge the two routes into one")
        seen.setdefault(norm, i)
        auth = route.get("auth") or {}
        if auth.get("scheme") == "header" and not auth.get("header"):
            problems.append(f"{where}.auth.header: required when auth.scheme is 'header'")
        if auth.get("header") and auth.get("scheme") != "header":
            problems.append(f"{where}.auth.header: only meaningful with auth.scheme 'header'")
        for j, cidr in enumerate(route.get("allow_cidrs") or []):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                problems.append(f"{where}.allow_cidrs[{j}]: '{cidr}' is not a CIDR such as 172.30.0.0/16")
    return problems


def _load_bottle(name: str, search: SearchPaths) -> BottleManifest:
    path = _find("bottle", name, search.bottles)
    meta, _ = _read(path)
    problems = validate(meta, "bottle.schema.json")
    if not problems:
        egress = meta.get("egress") or {}
        problems = _route_problems(egress.get("routes") or [], egress.get("allow_cidrs") or [])
    if problems:
        raise ManifestError(str(path), problems)
    return BottleManifest(name=name, path=path, meta=meta)


def load_bottle_chain(name: str, search: SearchPaths) -> tuple[BottleManifest, ...]:
    """The bottle and its ancestors, root first. A cycle is an error naming every file in it."""
    chain: list[BottleManifest] = []
    seen: list[str] = []
    current: str | None = name
    while current is not None:
        if current in seen:
            loop = " -> ".join([*seen[seen.index(current):], current])
            raise BottleError(f"bottle 'extends' forms a cycle: {loop} "
                              f"({', '.join(str(b.path) for b in chain)})")
        seen.append(current)
        manifest = _load_bottle(current, search)
        chain.append(manifest)
        current = manifest.meta.get("extends")
    return tuple(reversed(chain))


def _merge_by_key(parent: list[dict], child: list[dict], key: str, norm=lambda v: v) -> list[dict]:
    merged = {norm(item[key]): item for item in parent}
    for item in child:
        merged[norm(item[key])] = item
    return list(merged.values())


def _merge(parent: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Child keys override parent keys; collections merge by identity (route host, remote name)."""
    out = dict(parent)
    for key, value in child.items():
        if key == "extends":
            continue
        if key == "env":
            out["env"] = {**parent.get("env", {}), **value}
        elif key == "egress":
            routes = _merge_by_key(parent.get("egress", {}).get("routes", []),
                                   value.get("routes", []), "host", normalise_host)
            out["egress"] = {**parent.get("egress", {}), **value, "routes": routes}
        elif key == "git":
            git = {**parent.get("git", {}), **value}
            if "user" in value:
                git["user"] = {**parent.get("git", {}).get("user", {}), **value["user"]}
            git["remotes"] = _merge_by_key(parent.get("git", {}).get("remotes", []),
                                           value.get("remotes", []), "name")
            out["git"] = git
        elif key == "capabilities":
            caps = dict(parent.get("capabilities", {}))
            for kind, items in value.items():
                caps[kind] = list(dict.fromkeys([*caps.get(kind, []), *items]))
            out["capabilities"] = caps
        elif isinstance(value, dict) and isinstance(parent.get(key), dict):
            out[key] = {**parent[key], **value}
        else:
            out[key] = value
    return out


def resolve_bottle(name: str, search: SearchPaths) -> ResolvedBottle:
    chain = load_bottle_chain(name, search)
    meta: dict[str, Any] = {}
    for manifest in chain:
        meta = _merge(meta, manifest.meta)
    return ResolvedBottle(name=name, chain=chain, meta=meta)


def find_skill(name: str, search: SearchPaths) -> Path:
    """The directory of skill ``name`` (it must hold a SKILL.md)."""
    for d in search.skills:
        candidate = d / name
        if (candidate / "SKILL.md").is_file():
            return candidate
    known = sorted({p.parent.name for d in search.skills if d.is_dir() for p in d.glob("*/SKILL.md")})
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean: {close[0]}?)" if close else ""
    raise BottleError(f"no skill named '{name}'{hint}; a skill is a directory holding SKILL.md "
                      f"in one of: {', '.join(str(d) for d in search.skills)}")
