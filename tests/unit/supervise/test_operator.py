"""approve / deny on the host: overlay, apply-or-roll-back, decision file and audit log.

The live apply (``bottle_tasks.live``, the lead's module) is passed in as
``applier``; these tests give one that records what the overlay held when it
ran, and one that fails the way a real apply does (BottleError).
"""
from __future__ import annotations

import json
import sys
import textwrap

import pytest

from bottle_tasks.errors import BottleError
from bottle_tasks.overlay import load_overlay, overlay_path, save_overlay
from bottle_tasks.supervise import audit, operator
from bottle_tasks.supervise.proposals import capability_proposal, egress_proposal, reply, utc_now

SLUG = "researcher"


def queue_egress(slug=SLUG, **args):
    queue = operator.queue_for(slug)
    p = egress_proposal({"justification": "the task needs it", **args}, slug, queue.new_id(), utc_now())
    queue.write_proposal(p)
    return p


def write_plan(home, routes):
    path = home / "state" / SLUG / "plan.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"routes": routes}))


class Recording:
    def __init__(self):
        self.calls = []

    def __call__(self, slug, tool):
        self.calls.append((slug, tool, load_overlay(slug)))


def failing(slug, tool):
    raise BottleError(f"bottle {slug} is not running; start it with `doit start:{slug}`")


def test_approve_records_overlay_applies_then_answers_and_audits(bottle_home):
    write_plan(bottle_home, [{"host": "api.github.com", "path_allowlist": ["/repos/"], "methods": ["GET"],
                              "auth": {"scheme": "bearer", "token_ref": "GITHUB_TOKEN", "header": None}}])
    p = queue_egress(host="api.github.com", path_prefixes=["/user"])
    applier = Recording()
    decision = operator.approve(p["id"], note="ok", applier=applier)

    route = {"host": "api.github.com", "path_allowlist": ["/user"]}
    assert applier.calls == [(SLUG, "egress-block", {"version": 1, "egress": {"routes": [route]}})]
    assert decision["outcome"] == "approved" and decision["edited"] is False
    assert operator.queue_for(SLUG).decision(p["id"]) == decision
    assert "is allowed now" in reply(p, decision) and "Note from the operator: ok" in reply(p, decision)
    [record] = audit.records(SLUG)
    assert record["outcome"] == "approved" and record["proposal"] == p and record["note"] == "ok"
    assert record["by"] and record["at"] == decision["decided_at"]
    assert record["routes_diff"] == {
        "host": "api.github.com",
        "before": {"host": "api.github.com", "path_allowlist": ["/repos/"], "methods": ["GET"],
                   "auth": {"scheme": "bearer", "token_ref": "GITHUB_TOKEN"}},
        # the proposal named no methods, so the union is any method; auth is carried over untouched
        "after": {"host": "api.github.com", "path_allowlist": ["/repos/", "/user"],
                  "auth": {"scheme": "bearer", "token_ref": "GITHUB_TOKEN"}},
    }
    assert operator.pending() == []


def test_failed_apply_restores_the_overlay_byte_for_byte_and_tells_the_agent(bottle_home):
    save_overlay(SLUG, {"version": 1, "egress": {"routes": [{"host": "pypi.org"}]}})
    before = overlay_path(SLUG).read_bytes()
    p = queue_egress(host="api.example.com")
    with pytest.raises(BottleError) as info:
        operator.approve(p["id"], applier=failing)
    assert "applying it failed, so nothing changed" in str(info.value)
    assert overlay_path(SLUG).read_bytes() == before
    decision = operator.queue_for(SLUG).decision(p["id"])
    assert decision["outcome"] == "apply_failed"
    assert decision["error"] == "bottle researcher is not running; start it with `doit start:researcher`"
    assert reply(p, decision).startswith(f"The operator approved proposal {p['id']}, but applying it failed")
    [record] = audit.records(SLUG)
    assert record["outcome"] == "apply_failed" and record["overlay_rolled_back"] is True


def test_failed_apply_of_a_first_overlay_leaves_no_overlay(bottle_home):
    p = queue_egress(host="api.example.com")
    with pytest.raises(BottleError):
        operator.approve(p["id"], applier=failing)
    assert not overlay_path(SLUG).exists()


def test_a_bug_during_apply_rolls_back_and_keeps_the_proposal_pending(bottle_home):
    p = queue_egress(host="api.example.com")

    def crash(slug, tool):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        operator.approve(p["id"], applier=crash)
    assert not overlay_path(SLUG).exists()
    assert [q.id for q in operator.pending()] == [p["id"]]


def editor(tmp_path, code: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys
        path = sys.argv[1]
        data = json.load(open(path))
        {code}
        json.dump(data, open(path, "w"))
    """))
    return f"{sys.executable} {script}"


def test_edit_narrows_the_request_before_approving(bottle_home, tmp_path, monkeypatch):
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", editor(tmp_path, 'data["methods"] = ["GET"]'))
    p = queue_egress(host="api.example.com", path_prefixes=["/v1/"])
    applier = Recording()
    decision = operator.approve(p["id"], edit=True, applier=applier)
    assert decision["edited"] is True
    assert decision["route"] == {"host": "api.example.com", "path_allowlist": ["/v1/"], "methods": ["GET"]}
    assert applier.calls[0][2]["egress"]["routes"] == [decision["route"]]
    assert "changed your request" in reply(p, decision)


def test_edit_cannot_add_auth(bottle_home, tmp_path, monkeypatch):
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", editor(tmp_path, 'data["auth"] = {"scheme": "bearer", "token_ref": "T"}'))
    p = queue_egress(host="api.example.com")
    with pytest.raises(BottleError) as info:
        operator.approve(p["id"], edit=True, applier=Recording())
    assert "nothing was approved" in str(info.value) and "'auth' is refused" in str(info.value)
    assert not overlay_path(SLUG).exists()
    assert [q.id for q in operator.pending()] == [p["id"]]


def test_approved_capabilities_go_to_the_overlay(bottle_home):
    queue = operator.queue_for(SLUG)
    p = capability_proposal({"apt": ["jq"], "justification": "json"}, SLUG, queue.new_id(), utc_now())
    queue.write_proposal(p)
    applier = Recording()
    operator.approve(p["id"], applier=applier)
    assert applier.calls == [(SLUG, "capability-block", {"version": 1, "capabilities": {"apt": ["jq"]}})]
    [record] = audit.records(SLUG)
    assert record["capabilities_added"] == {"apt": ["jq"]}


def test_deny_writes_the_reason_for_the_agent_and_changes_nothing(bottle_home):
    p = queue_egress(host="api.example.com")
    decision = operator.deny(p["id"], "  use the internal mirror  ")
    assert decision["reason"] == "use the internal mirror"
    assert "Reason: use the internal mirror" in reply(p, decision)
    assert not overlay_path(SLUG).exists()
    [record] = audit.records(SLUG)
    assert record["outcome"] == "denied" and record["reason"] == "use the internal mirror"
    with pytest.raises(BottleError, match="already decided: denied"):
        operator.approve(p["id"], applier=Recording())


def test_ids_are_found_across_bottles_and_clashes_need_the_slug(bottle_home):
    with pytest.raises(BottleError, match="no proposal 'cafef00d'"):
        operator.locate("cafef00d")
    a = queue_egress(host="a.example.com")
    b = queue_egress(slug="other", host="b.example.com")
    assert operator.locate(b["id"]).slug == "other"
    clash = {**b, "slug": SLUG, "id": a["id"]}
    operator.queue_for("other").write_proposal({**clash, "slug": "other"})
    with pytest.raises(BottleError, match="use --id SLUG/ID"):
        operator.locate(a["id"])
    assert operator.locate(f"other/{a['id']}").proposal["route"]["host"] == "b.example.com"
    assert {(q.slug, q.id) for q in operator.pending()} == {(SLUG, a["id"]), ("other", b["id"]), ("other", a["id"])}
