"""Tool-argument validation, the proposal/decision formats and what the agent is told."""
from __future__ import annotations

import datetime as dt

import pytest

from bottle_tasks.supervise.proposals import (
    CAPABILITY_TOOL, EGRESS_TOOL, TOOLS, ProposalError, capability_proposal, display, egress_proposal,
    make_decision, pending_reply, reply, request_key, validate_decision, validate_proposal,
)

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def egress(**args):
    return egress_proposal({"justification": "the task needs it", **args}, "researcher", "0badc0de", NOW)


def refused(fn, **args) -> str:
    with pytest.raises(ProposalError) as info:
        fn(**args)
    return str(info.value)


def test_valid_egress_call_becomes_a_schema_valid_proposal_with_normalised_fields():
    p = egress(host="API.Example.com.", path_prefixes=["/v1/", "/v1/"], methods=["get", "POST"])
    assert p == {
        "version": 1, "id": "0badc0de", "slug": "researcher", "tool": EGRESS_TOOL,
        "created_at": "2026-01-02T03:04:05Z", "justification": "the task needs it",
        "route": {"host": "api.example.com", "path_allowlist": ["/v1/"], "methods": ["GET", "POST"]},
    }
    assert validate_proposal(p) == []


@pytest.mark.parametrize("key", ["auth", "token", "Authorization", "api_key", "headers", "credentials",
                                 "password", "bearer", "cookie", "secret"])
def test_credential_fields_are_refused_with_the_reason(key):
    message = refused(egress, host="api.example.com", **{key: {"scheme": "bearer", "token": "abc"}})
    assert f"argument '{key}' is refused" in message
    assert "credential" in message and "operator" in message
    assert "nothing was proposed" in message


def test_a_proposal_file_carrying_auth_fails_the_schema_too():
    p = egress(host="api.example.com")
    p["route"]["auth"] = {"scheme": "bearer", "token_ref": "GITHUB_TOKEN"}
    problems = validate_proposal(p)
    assert any("auth" in line and "refused" in line for line in problems), problems


@pytest.mark.parametrize("host, expected", [
    ("https://api.example.com/v1/models", 'not a URL (drop the scheme); use "host": "api.example.com" and '
                                          '"path_prefixes": ["/v1/models"]'),
    ("api.example.com:8443", 'without a port; use "host": "api.example.com"'),
    ("*.example.com", "wildcards are not allowed; list each exact hostname as its own route"),
    ("10.0.0.7", "must be a hostname, not an IP address"),
    ("localhost", "must be a fully qualified hostname such as api.example.com"),
    ("bad_label.example.com", "has an invalid label 'bad_label'"),
])
def test_invalid_hosts_are_refused_with_a_fix_the_model_can_apply(host, expected):
    message = refused(egress, host=host)
    assert f"host {host!r}" in message
    assert expected in message
    assert "Example of a valid call" in message


def test_every_problem_is_reported_at_once():
    message = refused(egress_proposal, args={"host": "10.0.0.1", "path_prefixes": ["v1", "/a/../b", "/q?x=1"],
                                             "methods": ["TRACE"], "hots": 1},
                      slug="r", proposal_id="0badc0de", now=NOW)
    assert "justification: required" in message
    assert "unknown argument 'hots' (did you mean 'host'?)" in message
    assert "host '10.0.0.1' must be a hostname, not an IP address" in message
    for bad in ("path_prefixes[0]: 'v1'", "path_prefixes[1]: '/a/../b'", "path_prefixes[2]: '/q?x=1'",
                "methods[0]: 'TRACE'"):
        assert bad in message


def test_capability_call_validates_packages_and_dockerfile_lines():
    p = capability_proposal({"apt": ["jq", "jq"], "npm": ["@scope/tool@1.2.3"], "dockerfile": ["RUN true"],
                             "justification": "tests need jq"}, "researcher", "0badc0de", NOW)
    assert p["capabilities"] == {"apt": ["jq"], "npm": ["@scope/tool@1.2.3"], "dockerfile": ["RUN true"]}
    assert validate_proposal(p) == []
    message = refused(capability_proposal, args={"apt": ["JQ;rm"], "dockerfile": ["FROM evil", "RUN a\nRUN b"],
                                                 "justification": "x"}, slug="r", proposal_id="0badc0de", now=NOW)
    assert "apt[0]: 'JQ;rm' is not allowed: expected a Debian package name" in message
    assert "dockerfile[0]: 'FROM evil'" in message and "dockerfile[1]" in message
    assert "name at least one of apt, npm or dockerfile" in refused(
        capability_proposal, args={"justification": "x"}, slug="r", proposal_id="0badc0de", now=NOW)


def test_tool_input_schemas_are_closed_and_name_no_credential_field():
    for name in (EGRESS_TOOL, CAPABILITY_TOOL):
        schema = TOOLS[name]["input_schema"]
        assert schema["additionalProperties"] is False
        assert not {"auth", "token", "headers"} & set(schema["properties"])


def test_same_request_has_the_same_key_whatever_the_justification():
    a = egress(host="api.example.com")
    b = egress_proposal({"host": "API.example.com", "justification": "other words"}, "researcher", "12345678", NOW)
    c = egress(host="api.example.com", methods=["GET"])
    assert request_key(a) == request_key(b) != request_key(c)


def test_decisions_need_their_reason_or_error():
    p = egress(host="api.example.com")
    assert make_decision(p, "denied", "alice", NOW, reason="not for this task")["reason"] == "not for this task"
    bare = {"version": 1, "id": p["id"], "outcome": "denied", "decided_by": "alice",
            "decided_at": "2026-01-02T03:04:05Z"}
    assert any("reason" in line for line in validate_decision(bare))
    assert any("error" in line for line in validate_decision({**bare, "outcome": "apply_failed"}))


def test_replies_tell_the_agent_what_happened():
    p = egress(host="api.example.com", path_prefixes=["/v1/"])
    approved = make_decision(p, "approved", "alice", NOW, note="read-only please", approved=p["route"])
    assert reply(p, approved) == (
        "Approved by the operator (proposal 0badc0de): api.example.com (/v1/; any method) is allowed now; "
        "retry your request.\nNote from the operator: read-only please")
    edited = make_decision(p, "approved", "alice", NOW, approved={**p["route"], "methods": ["GET"]})
    assert edited["edited"] is True
    assert "api.example.com (/v1/; GET)" in reply(p, edited) and "changed your request" in reply(p, edited)
    denied = make_decision(p, "denied", "alice", NOW, reason="use the mirror at pypi.internal.test")
    assert reply(p, denied).startswith("Denied by the operator (proposal 0badc0de). "
                                       "Reason: use the mirror at pypi.internal.test")
    failed = make_decision(p, "apply_failed", "alice", NOW, error="bottle not running", approved=p["route"])
    assert "applying it failed, so nothing changed: bottle not running" in reply(p, failed)
    assert pending_reply(p, 600, reused=False) == (
        "No decision yet: proposal 0badc0de (api.example.com (/v1/; any method)) is still waiting for the "
        "operator after 600s. It stays in the queue; call egress-block again with the same arguments to keep "
        "waiting for it, or carry on with other work meanwhile.")


def test_agent_text_is_made_safe_for_the_operators_terminal():
    assert display("ok\x1b]0;pwned\x07 \x1b[2Jdone") == "ok ]0;pwned   [2Jdone"
    assert display("x" * 10, 5) == "xxxx…"
