"""Rendered compose and configs: the isolation properties are in the files themselves."""
from __future__ import annotations

import yaml

from bottle_tasks.egress.routes import load_routes
from bottle_tasks.render import HostLayout, ImageRefs, agent_environment, render_all
from tests.unit.test_plan import researcher_plan

IMAGES = ImageRefs(agent="claude-bottle/agent-researcher:abc", sidecars="claude-bottle/sidecars:def")
LAYOUT = HostLayout(rendered="/s/rendered", ca="/s/ca", logs="/s/logs", queue="/s/queue")


def rendered(monkeypatch, tmp_path, **kw):
    monkeypatch.setenv("CLAUDE_BOTTLE_HOME", str(tmp_path))
    plan = researcher_plan()
    return plan, render_all(plan, IMAGES, LAYOUT, runtime=kw.get("runtime", "runc"),
                            git_gate_command="git daemon", supervise_command="python -m x")


def test_agent_is_only_on_the_internal_network(monkeypatch, tmp_path):
    _, files = rendered(monkeypatch, tmp_path)
    compose = yaml.safe_load(files["docker-compose.yml"])
    assert compose["name"] == "claude-bottle-researcher"
    assert compose["networks"]["internal"]["internal"] is True
    assert compose["services"]["agent"]["networks"] == ["internal"]
    assert set(compose["services"]["sidecars"]["networks"]) == {"internal", "egress"}
    assert set(compose["services"]["sidecars"]["networks"]["internal"]["aliases"]) == {"egress", "git-gate", "supervise"}


def test_agent_hardening(monkeypatch, tmp_path):
    plan, files = rendered(monkeypatch, tmp_path)
    agent = yaml.safe_load(files["docker-compose.yml"])["services"]["agent"]
    assert agent["cap_drop"] == ["ALL"] and "cap_add" not in agent
    assert agent["read_only"] is True
    assert "no-new-privileges:true" in agent["security_opt"]
    assert agent["pids_limit"] == plan.resources.pids and agent["mem_limit"] == plan.resources.memory
    assert not any("docker.sock" in v for v in agent["volumes"])
    assert agent["user"] == "node"
    assert "runtime" not in agent


def test_gvisor_runtime_when_chosen(monkeypatch, tmp_path):
    _, files = rendered(monkeypatch, tmp_path, runtime="runsc")
    assert yaml.safe_load(files["docker-compose.yml"])["services"]["agent"]["runtime"] == "runsc"


def test_tokens_never_written_and_only_named_for_sidecars(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-real-value")
    _, files = rendered(monkeypatch, tmp_path)
    assert not any("sk-ant-real-value" in text for text in files.values())
    compose = yaml.safe_load(files["docker-compose.yml"])
    assert "CLAUDE_CODE_OAUTH_TOKEN" in compose["services"]["sidecars"]["environment"]
    agent_env = dict(e.split("=", 1) for e in compose["services"]["agent"]["environment"])
    assert agent_env["CLAUDE_CODE_OAUTH_TOKEN"] == "bottle-placeholder"


def test_agent_proxy_env_in_both_cases(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_BOTTLE_HOME", str(tmp_path))
    env = agent_environment(researcher_plan())
    for name in ("http_proxy", "https_proxy", "no_proxy"):
        assert env[name] == env[name.upper()]
    assert env["HTTPS_PROXY"] == "http://egress:9099"
    assert env["DISABLE_TELEMETRY"] == "1"
    assert env["BOTTLE_ROLE"] == "researcher"


def test_routes_file_is_valid_for_the_proxy(monkeypatch, tmp_path):
    plan, files = rendered(monkeypatch, tmp_path)
    table = load_routes(files["routes.yaml"])
    assert [r.host for r in table.routes] == [r.host for r in plan.routes]
    anthropic = table.lookup("api.anthropic.com")
    assert anthropic.auth.token_env == "CLAUDE_CODE_OAUTH_TOKEN" and anthropic.dlp == "log"


def test_supervisord_has_no_network_control_surface(monkeypatch, tmp_path):
    _, files = rendered(monkeypatch, tmp_path)
    conf = files["supervisord.conf"]
    assert "inet_http_server" not in conf
    assert "chmod=0700" in conf
    for program in ("egress", "git-gate", "supervise"):
        assert f"[program:{program}]" in conf
    assert conf.count("user=bottle") == 2
    supervise = conf.split("[program:supervise]", 1)[1]
    assert "user=supervise" in supervise and "/usr/bin/env -i " in supervise
