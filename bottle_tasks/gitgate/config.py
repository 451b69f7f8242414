"""The git gate's configuration and everything the host derives from a plan for it.

Pure: no file or network I/O except :func:`load_gate_config`, which reads and
validates one JSON file. The render stage calls :func:`render_gate_config`,
:func:`gate_files` and :func:`gate_mounts`; provisioning calls
:func:`agent_gitconfig` and :func:`clone_commands`.
"""
from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Mapping, NamedTuple
from urllib.parse import urlsplit


from ..errors import BottleError
from ..fsutil import read_json
from ..plan import Plan, Remote
from ..schema import key_path
from ..sidecar import GIT_DIR, GIT_GATE_CONF, KEYS_DIR, LOG_DIR

__all__ = [
    "GateRemote", "GateConfig", "Mount", "WORKSPACE_REMOTE", "WORKSPACE_MOUNT_DIR", "OUTBOX_DIR",
    "SCHEMA_NAME", "upstream_kind", "is_local", "ssh_host_port", "known_hosts_text",
    "render_gate_config", "gate_files", "gate_mounts", "agent_gitconfig", "clone_commands",
    "workspace_dir", "session_dir", "gate_url", "plan_remotes", "parse_gate_config", "load_gate_config", "outbox_host_path",
]

SCHEMA_NAME = "git-gate.schema.json"
WORKSPACE_REMOTE = "workspace"
WORKSPACE_MOUNT_DIR = "/run/claude-bottle/workspace"  # local upstreams, read-only
OUTBOX_DIR = "/var/lib/claude-bottle/outbox"  # where pushes to local remotes land (host bind)
AGENT_WORKSPACE_ROOT = "/workspace"
LOG_FILE = f"{LOG_DIR}/git-gate.jsonl"
RENDERED_SUBDIR = "git-gate"  # under state/<slug>/rendered/

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SCP_RE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>\[[^\]]+\]|[^:/]+):(?P<path>.*)$")
_KEY_TYPE_RE = re.compile(r"^(ssh-|ecdsa-|sk-ssh-|sk-ecdsa-)")


@dataclass(frozen=True)
class GateRemote:
    """One remote as the gate sees it, with paths inside the sidecars container."""

    name: str
    upstream: str
    identity_file: str | None = None
    known_hosts: str | None = None
    protected_branches: tuple[str, ...] = ()
    push_prefix: str | None = None
    # Where accepted pushes go; None means the upstream itself.
    push_url: str | None = None
    # An https upstream's credentials: the gate's env var holding the token, and the basic-auth user.
    token_env: str | None = None
    token_user: str | None = None

    @property
    def push_target(self) -> str:
        return self.push_url or self.upstream

    @property
    def repo_name(self) -> str:
        return f"{self.name}.git"


@dataclass(frozen=True)
class GateConfig:
    remotes: tuple[GateRemote, ...]
    git_dir: str = GIT_DIR
    dlp_extra_secrets_env: tuple[str, ...] = ()
    log_file: str | None = None
    ca_file: str | None = None
    version: int = 1

    def remote(self, name: str) -> GateRemote | None:
        return next((r for r in self.remotes if r.name == name), None)

    def mirror_path(self, remote: GateRemote) -> str:
        return posixpath.join(self.git_dir, remote.repo_name)

    @property
    def state_dir(self) -> str:
        """The gate's own bookkeeping (locks, runtime config, git config); never served."""
        return posixpath.join(self.git_dir, ".gate")

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "git_dir": self.git_dir,
            "dlp_extra_secrets_env": list(self.dlp_extra_secrets_env),
            "log_file": self.log_file,
            "ca_file": self.ca_file,
            "remotes": [
                {"name": r.name, "upstream": r.upstream, "identity_file": r.identity_file,
                 "known_hosts": r.known_hosts, "protected_branches": list(r.protected_branches),
                 "push_prefix": r.push_prefix, "push_url": r.push_url,
                 "token_env": r.token_env, "token_user": r.token_user}
                for r in self.remotes
            ],
        }


class Mount(NamedTuple):
    source: str  # host path
    target: str  # path in the sidecars container
    read_only: bool = True


def upstream_kind(url: str) -> str:
    """``ssh``, ``https``, ``http``, ``git`` or ``local`` (a path or file:// URL)."""
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        if scheme in ("ssh", "git+ssh", "ssh+git"):
            return "ssh"
        if scheme == "file":
            return "local"
        return scheme
    if url.startswith(("/", "./", "../", "~")):
        return "local"
    if _SCP_RE.match(url):
        return "ssh"
    return "local"


def is_local(url: str) -> bool:
    return upstream_kind(url) == "local"


def _local_path(url: str) -> str:
    return url[len("file://"):] if url.startswith("file://") else url


def ssh_host_port(url: str) -> tuple[str, int]:
    """Host and port of an ssh upstream (``ssh://[user@]host[:port]/path`` or ``[user@]host:path``)."""
    if "://" in url:
        parts = urlsplit(url)
        if not parts.hostname:
            raise BottleError(f"ssh upstream '{url}' has no host")
        return parts.hostname, parts.port or 22
    match = _SCP_RE.match(url)
    if not match:
        raise BottleError(f"'{url}' is not an ssh upstream (expected ssh://host/path or user@host:path)")
    return match.group("host").strip("[]"), 22


def known_hosts_text(remote: Remote) -> str:
    """A known_hosts file for ``remote``'s pinned host key.

    A key line without a host field (``ssh-ed25519 AAAA...``) gets the
    upstream's host, in ``[host]:port`` form when the port is not 22, so the
    bottle file can hold either ``ssh-keyscan`` output or a bare key.
    """
    if not remote.known_host_key:
        return ""
    host, port = ssh_host_port(remote.upstream)
    pattern = host if port == 22 else f"[{host}]:{port}"
    lines = []
    for line in remote.known_host_key.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        lines.append(f"{pattern} {line}" if _KEY_TYPE_RE.match(line) else line)
    return "\n".join(lines) + "\n"


def _strip_glob(prefix: str | None) -> str | None:
    if not prefix:
        return None
    prefix = prefix.removeprefix("refs/heads/").rstrip("*")
    return prefix or None


def plan_remotes(plan: Plan) -> list[Remote]:
    """The plan's git remotes plus the ``--cwd`` workspace as remote ``workspace``; raise on clashes."""
    remotes = list(plan.git.remotes)
    if plan.workspace:
        remotes.append(Remote(name=WORKSPACE_REMOTE, upstream=plan.workspace))
    problems = []
    seen: set[str] = set()
    for i, remote in enumerate(plan.git.remotes):
        if remote.name == WORKSPACE_REMOTE and plan.workspace:
            problems.append(f"git.remotes[{i}].name: '{WORKSPACE_REMOTE}' is reserved for the --cwd workspace; "
                            "rename this remote in the bottle")
    for remote in remotes:
        if not _NAME_RE.match(remote.name):
            problems.append(f"git remote '{remote.name}': names may use letters, digits, '_', '.', '-'")
        if remote.name in seen:
            problems.append(f"git remote '{remote.name}' is declared twice; remote names must be unique")
        seen.add(remote.name)
        if is_local(remote.upstream) and not PurePosixPath(_local_path(remote.upstream)).is_absolute():
            problems.append(f"git remote '{remote.name}': local upstream '{remote.upstream}' must be an "
                            "absolute path")
    if problems:
        raise BottleError(f"git gate for '{plan.slug}' cannot be configured:\n"
                          + "\n".join(f"  - {p}" for p in problems))
    return remotes


def render_gate_config(plan: Plan, ca_file: str | None = None) -> dict[str, Any]:
    """The content of ``/etc/claude-bottle/git-gate.json`` for ``plan`` (validated by the schema).

    ``ca_file`` is the path, inside the sidecars container, of the CA bundle
    https upstreams are verified against (the operator's upstream CA), if any.
    """
    remotes = []
    for remote in plan_remotes(plan):
        local = is_local(remote.upstream)
        keys = posixpath.join(KEYS_DIR, remote.name)
        remotes.append(GateRemote(
            name=remote.name,
            upstream=posixpath.join(WORKSPACE_MOUNT_DIR, remote.name) if local else remote.upstream,
            identity_file=posixpath.join(keys, "id") if remote.identity_file and not local else None,
            known_hosts=posixpath.join(keys, "known_hosts") if remote.known_host_key and not local else None,
            protected_branches=tuple(remote.protected_branches),
            push_prefix=_strip_glob(remote.push_prefix),
            push_url=posixpath.join(OUTBOX_DIR, f"{remote.name}.git") if local else None,
            token_env=remote.token_ref, token_user=remote.token_user if remote.token_ref else None,
        ))
    config = GateConfig(remotes=tuple(remotes), git_dir=GIT_DIR,
                        dlp_extra_secrets_env=tuple(sorted(set(plan.token_refs))), log_file=LOG_FILE,
                        ca_file=ca_file)
    return config.to_dict()


def outbox_host_path(state: Path, name: str) -> Path:
    """Host path of the bare repository that receives pushes to local remote ``name``."""
    return Path(state) / "outbox" / f"{name}.git"


def gate_files(plan: Plan, ca_file: str | None = None) -> dict[str, str]:
    """Files to write under ``state/<slug>/rendered/``: relative path -> content."""
    files = {"git-gate.json": json.dumps(render_gate_config(plan, ca_file), indent=2, sort_keys=True) + "\n"}
    for remote in plan_remotes(plan):
        if remote.known_host_key and not is_local(remote.upstream):
            files[f"{RENDERED_SUBDIR}/{remote.name}.known_hosts"] = known_hosts_text(remote)
    return files


def gate_mounts(plan: Plan, state: Path | None = None) -> list[Mount]:
    """Every bind mount the git gate needs in the sidecars container, its config file included.

    ``state`` is ``state/<slug>/`` on the host (default: from ``$CLAUDE_BOTTLE_HOME``);
    the rendered files of :func:`gate_files` are expected under ``state/rendered/``.
    """
    if state is None:
        from ..paths import state_dir
        state = state_dir(plan.slug)
    state = Path(state)
    rendered = state / "rendered"
    mounts = [Mount(str(rendered / "git-gate.json"), GIT_GATE_CONF)]
    for remote in plan_remotes(plan):
        keys = posixpath.join(KEYS_DIR, remote.name)
        if is_local(remote.upstream):
            host_repo = str(Path(_local_path(remote.upstream)).expanduser())
            mounts.append(Mount(host_repo, posixpath.join(WORKSPACE_MOUNT_DIR, remote.name)))
            mounts.append(Mount(str(outbox_host_path(state, remote.name)),
                                posixpath.join(OUTBOX_DIR, f"{remote.name}.git"), read_only=False))
            continue
        if remote.identity_file:
            mounts.append(Mount(str(Path(remote.identity_file).expanduser()), posixpath.join(keys, "id")))
        if remote.known_host_key:
            mounts.append(Mount(str(rendered / RENDERED_SUBDIR / f"{remote.name}.known_hosts"),
                                posixpath.join(keys, "known_hosts")))
    return mounts


def gate_url(name: str, gate_host: str = "git-gate") -> str:
    return f"git://{gate_host}/{name}.git"


def _gitconfig_value(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _gitconfig_subsection(value: str) -> str:
    if "\n" in value:
        raise BottleError(f"'{value!r}' cannot be used in a git config section name")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def agent_gitconfig(plan: Plan, gate_host: str = "git-gate") -> str:
    """The agent's ``~/.gitconfig``: identity, and every upstream URL rewritten to the gate."""
    lines = []
    if plan.git.user_name or plan.git.user_email:
        lines.append("[user]")
        if plan.git.user_name:
            lines.append(f"\tname = {_gitconfig_value(plan.git.user_name)}")
        if plan.git.user_email:
            lines.append(f"\temail = {_gitconfig_value(plan.git.user_email)}")
    lines += ["[push]", "\tautoSetupRemote = true"]
    for remote in plan_remotes(plan):
        lines.append(f"[url {_gitconfig_subsection(gate_url(remote.name, gate_host))}]")
        lines.append(f"\tinsteadOf = {_gitconfig_value(remote.upstream)}")
    return "\n".join(lines) + "\n"


def workspace_dir(plan: Plan) -> str | None:
    """Where the agent's clone of the ``--cwd`` workspace lives, or None without a workspace."""
    if not plan.workspace:
        return None
    base = PurePosixPath(_local_path(plan.workspace).rstrip("/")).name
    base = re.sub(r"[^A-Za-z0-9._-]", "-", base).lstrip(".-") or WORKSPACE_REMOTE
    return f"{AGENT_WORKSPACE_ROOT}/{base}"


def session_dir(plan: Plan) -> str:
    """Where Claude Code runs in the agent: the workspace clone when there is one, else ``/workspace``."""
    return workspace_dir(plan) or AGENT_WORKSPACE_ROOT


def clone_commands(plan: Plan, gate_host: str = "git-gate") -> list[list[str]]:
    """Commands provisioning runs as the agent user to clone the workspace from the gate."""
    target = workspace_dir(plan)
    if target is None:
        return []
    return [["git", "clone", "--origin", "origin", gate_url(WORKSPACE_REMOTE, gate_host), target]]


def _schema() -> dict[str, Any]:
    from ..paths import schemas_dir
    path = schemas_dir() / SCHEMA_NAME  # $CLAUDE_BOTTLE_SCHEMAS in the sidecars image
    if not path.is_file():
        from ..egress.schemas import schema_path
        try:
            path = schema_path(SCHEMA_NAME)
        except FileNotFoundError as exc:
            raise BottleError(str(exc)) from None
    return json.loads(path.read_text(encoding="utf-8"))


def _problems(data: Any) -> list[str]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{key_path(e.absolute_path)}: {e.message}" for e in errors]


def parse_gate_config(data: Mapping[str, Any], source: str = "git-gate config") -> GateConfig:
    """Validate ``data`` against the schema and build a :class:`GateConfig`."""
    problems = _problems(data)
    names = [r.get("name") for r in data.get("remotes", []) if isinstance(r, Mapping)] if isinstance(data, Mapping) else []
    problems += [f"remotes: '{n}' appears more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise BottleError(f"{source} is invalid:\n" + "\n".join(f"  - {p}" for p in problems))
    remotes = tuple(
        GateRemote(name=r["name"], upstream=r["upstream"], identity_file=r.get("identity_file"),
                   known_hosts=r.get("known_hosts"), protected_branches=tuple(r.get("protected_branches") or ()),
                   push_prefix=_strip_glob(r.get("push_prefix")), push_url=r.get("push_url"),
                   token_env=r.get("token_env"), token_user=r.get("token_user"))
        for r in data["remotes"]
    )
    return GateConfig(remotes=remotes, git_dir=data["git_dir"],
                      dlp_extra_secrets_env=tuple(data.get("dlp_extra_secrets_env") or ()),
                      log_file=data.get("log_file"), ca_file=data.get("ca_file"), version=data["version"])


def load_gate_config(path: str | Path) -> GateConfig:
    return parse_gate_config(read_json(Path(path), "the git gate config"), str(path))
