"""The plan is a pure function of manifests, host env names and options."""
from __future__ import annotations

import pytest

from bottle_tasks.errors import BottleError
from bottle_tasks.manifests import default_search_paths, find_skill, load_agent, resolve_bottle
from bottle_tasks.plan import PlanOptions, make_plan, plan_from_json
from bottle_tasks.preflight import format_preflight


def researcher_plan(env_names=frozenset({"CLAUDE_CODE_OAUTH_TOKEN"}), **options):
    search = default_search_paths(None)
    agent = load_agent("researcher", search)
    bottle = resolve_bottle(agent.meta["bottle"], search)
    skills = {s: find_skill(s, search) for s in agent.meta.get("skills", [])}
    return make_plan(agent, bottle, skills, env_names, PlanOptions(**options))


def test_missing_token_env_var_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_BOTTLE_HOME", str(tmp_path))
    with pytest.raises(BottleError) as err:
        researcher_plan(env_names=frozenset())
    assert "CLAUDE_CODE_OAUTH_TOKEN is not set" in str(err.value)
    assert "egress.routes[0] (api.anthropic.com)" in str(err.value)


def test_plan_round_trips_through_json(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_BOTTLE_HOME", str(tmp_path))
    plan = researcher_plan()
    assert plan_from_json(plan.to_json()) == plan
    assert plan.project == "claude-bottle-researcher"
    assert plan.token_refs == ("CLAUDE_CODE_OAUTH_TOKEN",)


def test_plan_is_deterministic_and_option_sensitive(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_BOTTLE_HOME", str(tmp_path))
    assert researcher_plan().digest() == researcher_plan().digest()
    assert researcher_plan().digest() != researcher_plan(workspace="/src/x").digest()


def test_anthropic_route_defaults_to_dlp_log_others_to_block(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_BOTTLE_HOME", str(tmp_path))
    dlp = {r.host: r.dlp for r in researcher_plan().routes}
    assert dlp["api.anthropic.com"] == "log"
    assert dlp["registry.npmjs.org"] == "block"


def test_preflight_shows_names_and_auth_scheme_never_values(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_BOTTLE_HOME", str(tmp_path))
    text = format_preflight(researcher_plan())
    assert "api.anthropic.com [auth:bearer]" in text
    assert "BOTTLE_ROLE" in text and "researcher\n" not in text.split("env", 1)[1].split("skills")[0]
    assert "cite-sources" in text
    assert "bottle   dev" in text


def test_unknown_backend_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_BOTTLE_HOME", str(tmp_path))
    with pytest.raises(BottleError, match="backend 'vmware' is unknown"):
        researcher_plan(backend="vmware")
