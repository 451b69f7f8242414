"""Merge rules of the bottle overlay and its atomic load/save."""
from __future__ import annotations

import copy
import json

import pytest

from bottle_tasks.overlay import (OverlayError, add_capabilities, add_route, load_overlay, merge_overlay,
                                  overlay_path, save_overlay)
from bottle_tasks.schema import validate

GITHUB_AUTH = {"scheme": "bearer", "token_ref": "GITHUB_TOKEN"}
BOTTLE = {
    "description": "dev",
    "egress": {"routes": [
        {"host": "API.GitHub.com", "path_allowlist": ["/repos/acme/"], "methods": ["GET"], "auth": GITHUB_AUTH},
        {"host": "pypi.org"},
    ]},
    "capabilities": {"apt": ["git"]},
}


def overlay(*routes, **caps):
    out = {"version": 1, "egress": {"routes": list(routes)}}
    if caps:
        out["capabilities"] = caps
    return out


def test_new_host_is_appended_and_inputs_are_untouched():
    before = copy.deepcopy(BOTTLE)
    merged = merge_overlay(BOTTLE, overlay({"host": "Registry.npmjs.org", "methods": ["GET"]}))
    assert BOTTLE == before
    assert merged["egress"]["routes"][:2] == BOTTLE["egress"]["routes"]
    assert merged["egress"]["routes"][2] == {"host": "registry.npmjs.org", "methods": ["GET"]}
    assert validate(merged, "bottle.schema.json") == []


def test_existing_host_gets_the_union_of_paths_and_methods_and_keeps_its_auth():
    merged = merge_overlay(BOTTLE, overlay({"host": "api.github.com", "path_allowlist": ["/repos/acme/", "/user"],
                                            "methods": ["post", "GET"]}))
    route = merged["egress"]["routes"][0]
    assert route == {"host": "API.GitHub.com", "path_allowlist": ["/repos/acme/", "/user"],
                     "methods": ["GET", "POST"], "auth": GITHUB_AUTH}
    assert len(merged["egress"]["routes"]) == 2


def test_any_absorbs_a_list_in_either_direction():
    widened = merge_overlay(BOTTLE, overlay({"host": "api.github.com"}))["egress"]["routes"][0]
    assert "path_allowlist" not in widened and "methods" not in widened
    assert widened["auth"] == GITHUB_AUTH
    already_any = merge_overlay(BOTTLE, overlay({"host": "pypi.org", "path_allowlist": ["/simple/"]}))
    assert already_any["egress"]["routes"][1] == {"host": "pypi.org"}


def test_auth_in_an_overlay_is_never_copied_and_never_saved(bottle_home):
    sneaky = {"host": "api.github.com", "auth": {"scheme": "bearer", "token_ref": "AWS_SECRET"}}
    assert merge_overlay(BOTTLE, overlay(sneaky))["egress"]["routes"][0]["auth"] == GITHUB_AUTH
    new_host = merge_overlay(BOTTLE, overlay({**sneaky, "host": "evil.example.com"}))["egress"]["routes"][2]
    assert new_host == {"host": "evil.example.com"}
    with pytest.raises(OverlayError, match="auth"):
        save_overlay("researcher", overlay(sneaky))
    assert not overlay_path("researcher").exists()


def test_capabilities_are_unions_after_the_bottles_own():
    merged = merge_overlay(BOTTLE, overlay(apt=["jq", "git"], npm=["tsx"], dockerfile=["RUN true"]))
    assert merged["capabilities"] == {"apt": ["git", "jq"], "npm": ["tsx"], "dockerfile": ["RUN true"]}
    assert merge_overlay({}, {"version": 1}) == {}


def test_recording_twice_keeps_one_route_per_host():
    o = add_route({"version": 1}, {"host": "api.example.com", "path_allowlist": ["/a/"]})
    o = add_route(o, {"host": "api.example.com", "path_allowlist": ["/b/"], "methods": ["GET"]})
    o = add_capabilities(o, {"apt": ["jq"]})
    o = add_capabilities(o, {"apt": ["jq", "curl"]})
    assert o == {"version": 1, "egress": {"routes": [{"host": "api.example.com", "path_allowlist": ["/a/", "/b/"]}]},
                 "capabilities": {"apt": ["jq", "curl"]}}


def test_save_then_load_round_trips_world_readable(bottle_home):
    assert load_overlay("researcher") == {"version": 1}
    data = add_route({"version": 1}, {"host": "api.example.com"})
    path = save_overlay("researcher", data)
    assert path == bottle_home / "state" / "researcher" / "overlay.json"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert load_overlay("researcher") == data
    assert [p.name for p in path.parent.iterdir()] == ["overlay.json"]


def test_an_invalid_overlay_file_is_named_with_its_problem(bottle_home):
    path = overlay_path("researcher")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 1, "egress": {"routes": [{"host": "https://x.example.com"}]}}))
    with pytest.raises(OverlayError) as info:
        load_overlay("researcher")
    assert str(path) in str(info.value) and "egress.routes[0].host" in str(info.value)
    path.write_text("{")
    with pytest.raises(OverlayError, match="is not valid JSON"):
        load_overlay("researcher")
