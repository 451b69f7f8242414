"""The gate config, mounts, the agent's gitconfig and clone commands are pure functions of the plan."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from bottle_tasks.errors import BottleError
from bottle_tasks.gitgate.config import (Mount, agent_gitconfig, clone_commands, gate_files, gate_mounts,
                                         known_hosts_text, parse_gate_config, render_gate_config,
                                         upstream_kind, workspace_dir)
from bottle_tasks.gitgate.daemon import command, daemon_args
from bottle_tasks.plan import Remote

from .conftest import make_plan

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
SSH = Remote(name="origin", upstream="ssh://git@upstream.test:2222/srv/repo.git",
             identity_file="~/.ssh/bottle_id", known_host_key=HOST_KEY,
             protected_branches=("release/*",), push_prefix="agent/*")


def test_ssh_remote_config_points_at_mounted_key_and_known_hosts():
    cfg = render_gate_config(make_plan([SSH], token_refs=("GH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")))
    assert cfg["git_dir"] == "/var/lib/claude-bottle/git"
    assert cfg["dlp_extra_secrets_env"] == ["CLAUDE_CODE_OAUTH_TOKEN", "GH_TOKEN"]
    [remote] = cfg["remotes"]
    assert remote == {"name": "origin", "upstream": SSH.upstream,
                      "identity_file": "/run/claude-bottle/keys/origin/id",
                      "known_hosts": "/run/claude-bottle/keys/origin/known_hosts",
                      "protected_branches": ["release/*"], "push_prefix": "agent/", "push_url": None,
                      "token_env": None, "token_user": None}
    parsed = parse_gate_config(cfg)
    assert parsed.remote("origin").push_target == SSH.upstream


def test_workspace_becomes_a_read_only_remote_whose_pushes_go_to_the_outbox():
    cfg = render_gate_config(make_plan(workspace="/home/me/src/proj"))
    [remote] = cfg["remotes"]
    assert remote["name"] == "workspace"
    assert remote["upstream"] == "/run/claude-bottle/workspace/workspace"
    assert remote["push_url"] == "/var/lib/claude-bottle/outbox/workspace.git"
    assert remote["identity_file"] is None and remote["known_hosts"] is None
    parse_gate_config(cfg)


def test_a_bottle_remote_named_workspace_clashes_with_cwd():
    plan = make_plan([Remote(name="workspace", upstream="ssh://git@h/x.git", known_host_key=HOST_KEY)],
                     workspace="/src/p")
    with pytest.raises(BottleError, match=r"git.remotes\[0\].name: 'workspace' is reserved"):
        render_gate_config(plan)


def test_relative_local_upstream_is_refused():
    with pytest.raises(BottleError, match="must be an absolute path"):
        render_gate_config(make_plan([Remote(name="lib", upstream="../lib")]))


@pytest.mark.parametrize("url, kind", [
    ("ssh://git@github.com/o/r.git", "ssh"), ("git@github.com:o/r.git", "ssh"),
    ("https://github.com/o/r.git", "https"), ("/srv/r.git", "local"), ("file:///srv/r.git", "local"),
    ("~/src/r", "local"),
])
def test_upstream_kinds(url, kind):
    assert upstream_kind(url) == kind


def test_known_hosts_adds_host_and_port_to_a_bare_key_and_keeps_keyscan_lines():
    assert known_hosts_text(SSH) == f"[upstream.test]:2222 {HOST_KEY}\n"
    scp = Remote(name="gh", upstream="git@github.com:o/r.git", known_host_key=f"github.com {HOST_KEY}\n# c\n")
    assert known_hosts_text(scp) == f"github.com {HOST_KEY}\n"
    plain = Remote(name="gh", upstream="git@github.com:o/r.git", known_host_key=HOST_KEY)
    assert known_hosts_text(plain) == f"github.com {HOST_KEY}\n"


def test_gate_mounts_cover_config_key_known_hosts_workspace_and_outbox(tmp_path):
    mounts = gate_mounts(make_plan([SSH], workspace="/home/me/proj"), state=tmp_path)
    assert Mount(str(tmp_path / "rendered/git-gate.json"), "/etc/claude-bottle/git-gate.json", True) in mounts
    assert Mount(os.path.expanduser("~/.ssh/bottle_id"), "/run/claude-bottle/keys/origin/id", True) in mounts
    assert Mount(str(tmp_path / "rendered/git-gate/origin.known_hosts"),
                 "/run/claude-bottle/keys/origin/known_hosts", True) in mounts
    assert Mount("/home/me/proj", "/run/claude-bottle/workspace/workspace", True) in mounts
    assert Mount(str(tmp_path / "outbox/workspace.git"), "/var/lib/claude-bottle/outbox/workspace.git",
                 False) in mounts
    assert len(mounts) == 5
    files = gate_files(make_plan([SSH], workspace="/home/me/proj"))
    assert set(files) == {"git-gate.json", "git-gate/origin.known_hosts"}
    assert json.loads(files["git-gate.json"]) == render_gate_config(make_plan([SSH], workspace="/home/me/proj"))


def test_agent_gitconfig_rewrites_upstreams_to_the_gate_as_git_reads_it(tmp_path):
    scp = Remote(name="lib", upstream="git@github.com:org/lib.git", known_host_key=HOST_KEY)
    plan = make_plan([SSH, scp], workspace="/home/me/proj", user=('Claude "bottled" \\o/', "c@bottle"))
    path = tmp_path / "gitconfig"
    path.write_text(agent_gitconfig(plan))
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(path), "GIT_CONFIG_NOSYSTEM": "1"}

    def get_url(url):
        return subprocess.run(["git", "ls-remote", "--get-url", url], env=env, capture_output=True,
                              text=True, check=True, cwd=tmp_path).stdout.strip()

    assert get_url(SSH.upstream) == "git://git-gate/origin.git"
    assert get_url("git@github.com:org/lib.git") == "git://git-gate/lib.git"
    assert get_url("/home/me/proj") == "git://git-gate/workspace.git"
    name = subprocess.run(["git", "config", "--global", "user.name"], env=env, capture_output=True, text=True)
    assert name.stdout.strip() == 'Claude "bottled" \\o/'
    assert "/run/claude-bottle/keys" not in path.read_text()


def test_clone_commands_clone_the_workspace_from_the_gate():
    plan = make_plan(workspace="/home/me/My Project/")
    assert workspace_dir(plan) == "/workspace/My-Project"
    assert clone_commands(plan) == [["git", "clone", "--origin", "origin", "git://git-gate/workspace.git",
                                     "/workspace/My-Project"]]
    assert clone_commands(make_plan()) == []


def test_invalid_config_names_the_key_and_duplicates():
    bad = {"version": 1, "git_dir": "/g", "remotes": [
        {"name": "a", "upstream": "/x", "protected": []},
        {"name": "a", "upstream": "/y"}]}
    with pytest.raises(BottleError) as err:
        parse_gate_config(bad, "/etc/claude-bottle/git-gate.json")
    text = str(err.value)
    assert "/etc/claude-bottle/git-gate.json is invalid" in text
    assert "remotes[0]: Additional properties are not allowed ('protected' was unexpected)" in text
    assert "'a' appears more than once" in text


def test_supervisord_command_and_daemon_arguments():
    assert command("/etc/claude-bottle/git-gate.json") == [
        "/opt/bottle/venv/bin/python", "-m", "bottle_tasks.gitgate.daemon", "--config",
        "/etc/claude-bottle/git-gate.json", "--listen", "0.0.0.0", "--port", "9418", "--user", "bottle"]
    args = daemon_args(parse_gate_config(render_gate_config(make_plan([SSH]))), "/opt/bottle/venv/bin/python",
                       "0.0.0.0", 9418)
    assert "--enable=receive-pack" in args and "--informative-errors" in args
    assert args[-1] == "/var/lib/claude-bottle/git"
    assert any(a.startswith("--access-hook=/opt/bottle/venv/bin/python -m bottle_tasks.gitgate.hooks access")
               for a in args)


@pytest.mark.parametrize("upstream", ["ssh://git@git.example/org/repo.git", "git@git.example:org/repo.git"])
def test_ssh_remote_without_known_host_key_is_a_plan_error(bottle_home, upstream):
    from bottle_tasks.manifests import default_search_paths, load_agent, resolve_bottle
    from bottle_tasks.plan import PlanOptions
    from bottle_tasks.plan import make_plan as plan_from_manifests
    (bottle_home / "bottles").mkdir()
    (bottle_home / "agents").mkdir()
    (bottle_home / "bottles" / "gated.md").write_text(
        f"---\ndescription: gated\ngit:\n  remotes:\n    - name: origin\n      upstream: {upstream}\n---\n")
    (bottle_home / "agents" / "coder.md").write_text("---\ndescription: c\nbottle: gated\n---\nYou code.\n")
    search = default_search_paths(None)
    agent = load_agent("coder", search)
    with pytest.raises(BottleError) as err:
        plan_from_manifests(agent, resolve_bottle("gated", search), {}, frozenset(), PlanOptions())
    assert "git.remotes[0] (origin).known_host_key" in str(err.value)
    assert "no trust on first use" in str(err.value)


def _plan_with_remote(bottle_home, remote_yaml: str, env_names=frozenset()):
    from bottle_tasks.manifests import default_search_paths, load_agent, resolve_bottle
    from bottle_tasks.plan import PlanOptions
    from bottle_tasks.plan import make_plan as plan_from_manifests
    (bottle_home / "bottles").mkdir(exist_ok=True)
    (bottle_home / "agents").mkdir(exist_ok=True)
    (bottle_home / "bottles" / "gated.md").write_text(
        "---\ndescription: gated\ngit:\n  remotes:\n" + remote_yaml + "---\n")
    (bottle_home / "agents" / "coder.md").write_text("---\ndescription: c\nbottle: gated\n---\nYou code.\n")
    search = default_search_paths(None)
    return plan_from_manifests(load_agent("coder", search), resolve_bottle("gated", search), {},
                               frozenset(env_names), PlanOptions())


HTTPS_REMOTE = ("    - name: origin\n      upstream: https://git.example/org/repo.git\n"
                "      auth: {token_ref: GIT_TOKEN}\n")


def test_https_remote_token_is_planned_by_name_and_rendered_for_the_gate(bottle_home):
    from bottle_tasks.preflight import format_preflight
    plan = _plan_with_remote(bottle_home, HTTPS_REMOTE, {"GIT_TOKEN"})
    [remote] = plan.git.remotes
    assert (remote.token_ref, remote.token_user) == ("GIT_TOKEN", "x-access-token")
    assert "GIT_TOKEN" in plan.token_refs
    assert "origin -> https://git.example/org/repo.git [auth:GIT_TOKEN]" in format_preflight(plan)
    cfg = render_gate_config(plan, ca_file="/run/claude-bottle/upstream-ca.pem")
    assert cfg["ca_file"] == "/run/claude-bottle/upstream-ca.pem"
    assert cfg["remotes"][0]["token_env"] == "GIT_TOKEN"
    assert cfg["remotes"][0]["token_user"] == "x-access-token"
    assert "GIT_TOKEN" in cfg["dlp_extra_secrets_env"]
    assert parse_gate_config(cfg).remotes[0].token_env == "GIT_TOKEN"


def test_https_remote_token_must_be_exported_at_plan_time(bottle_home):
    with pytest.raises(BottleError) as err:
        _plan_with_remote(bottle_home, HTTPS_REMOTE)
    assert "git.remotes[0] (origin).auth.token_ref: host environment variable GIT_TOKEN is not set" in str(err.value)


@pytest.mark.parametrize("upstream", ["http://git.example/org/repo.git", "ssh://git@git.example/r.git"])
def test_a_token_is_never_planned_for_a_cleartext_or_ssh_upstream(bottle_home, upstream):
    remote = (f"    - name: origin\n      upstream: {upstream}\n      known_host_key: {HOST_KEY}\n"
              "      auth: {token_ref: GIT_TOKEN}\n")
    with pytest.raises(BottleError) as err:
        _plan_with_remote(bottle_home, remote, {"GIT_TOKEN"})
    assert "(origin).auth: a token is only sent to an https:// upstream" in str(err.value)


def test_remote_auth_typo_gets_a_did_you_mean(bottle_home):
    remote = HTTPS_REMOTE.replace("token_ref", "tokenref")
    with pytest.raises(BottleError) as err:
        _plan_with_remote(bottle_home, remote, {"GIT_TOKEN"})
    assert "token_ref" in str(err.value) and "did you mean" in str(err.value)


def test_claude_runs_in_the_workspace_clone_when_there_is_one():
    from bottle_tasks.gitgate.config import session_dir
    from bottle_tasks.stages.start import claude_argv

    assert session_dir(make_plan()) == "/workspace"
    assert session_dir(make_plan(workspace="/home/me/src/my proj")) == "/workspace/my-proj"

    class Inst:
        def __init__(self, plan):
            self._plan = plan

        def plan(self):
            return self._plan

    argv = claude_argv(Inst(make_plan(workspace="/home/me/src/proj")), "c1", ["--continue"], tty=True)
    assert argv[:8] == ["docker", "exec", "-i", "-t", "-u", "node", "-w", "/workspace/proj"]
    assert argv[8:10] == ["c1", "claude"] and argv[-1] == "--continue"
