"""Manifest discovery, validation errors and bottle composition."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bottle_tasks.errors import BottleError, ManifestError
from bottle_tasks.manifests import (SearchPaths, default_search_paths, discover_agents, load_agent,
                                    resolve_bottle)


def write(path: Path, front: str, body: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n" + textwrap.dedent(front).strip() + "\n---\n" + body)
    return path


@pytest.fixture
def search(tmp_path) -> SearchPaths:
    return SearchPaths(agents=(tmp_path / "agents",), bottles=(tmp_path / "bottles",),
                       skills=(tmp_path / "skills",))


def test_misspelt_key_names_file_key_and_suggestion(search, tmp_path):
    bottle = write(tmp_path / "bottles/typo.md", """
        egres:
          routes: []
    """)
    with pytest.raises(ManifestError) as err:
        resolve_bottle("typo", search)
    message = str(err.value)
    assert str(bottle) in message
    assert "unknown key 'egres'" in message
    assert "did you mean: egress?" in message


def test_nested_misspelt_key_gives_full_key_path(search, tmp_path):
    write(tmp_path / "bottles/typo.md", """
        egress:
          routes:
            - host: api.example.com
              method: [GET]
    """)
    with pytest.raises(ManifestError) as err:
        resolve_bottle("typo", search)
    assert "egress.routes[0].method: unknown key 'method' (did you mean: methods?)" in str(err.value)


@pytest.mark.parametrize("host, reason", [
    ("*.example.com", "wildcards are not allowed"),
    ("https://example.com", "not a URL"),
    ("example.com/path", "without a path"),
    ("example.com:443", "without a port"),
    ("10.0.0.1", "not an IP address"),
])
def test_bad_route_host_names_the_route_index(search, tmp_path, host, reason):
    write(tmp_path / "bottles/b.md", f"""
        egress:
          routes:
            - host: ok.example.com
            - host: "{host}"
    """)
    with pytest.raises(ManifestError) as err:
        resolve_bottle("b", search)
    assert "egress.routes[1].host" in str(err.value)
    assert reason in str(err.value)


def test_wrong_type_says_what_was_expected(search, tmp_path):
    write(tmp_path / "bottles/b.md", """
        egress:
          routes:
            - host: ok.example.com
              methods: GET
    """)
    with pytest.raises(ManifestError) as err:
        resolve_bottle("b", search)
    assert "egress.routes[0].methods: expected array" in str(err.value)


def test_bad_enum_suggests_closest_value(search, tmp_path):
    write(tmp_path / "bottles/b.md", """
        egress:
          routes:
            - host: ok.example.com
              dlp: blok
    """)
    with pytest.raises(ManifestError) as err:
        resolve_bottle("b", search)
    assert "did you mean: block?" in str(err.value)


def test_header_auth_requires_header_name(search, tmp_path):
    write(tmp_path / "bottles/b.md", """
        egress:
          routes:
            - host: api.example.com
              auth: {scheme: header, token_ref: API_KEY}
    """)
    with pytest.raises(ManifestError, match=r"routes\[0\]\.auth\.header: required"):
        resolve_bottle("b", search)


def test_extends_merges_routes_by_host_and_env(search, tmp_path):
    write(tmp_path / "bottles/base.md", """
        env: {A: "1", B: "2"}
        egress:
          routes:
            - host: one.example.com
            - host: two.example.com
              methods: [GET]
        capabilities: {apt: [jq]}
    """)
    write(tmp_path / "bottles/child.md", """
        extends: base
        env: {B: "3"}
        egress:
          routes:
            - host: TWO.example.com.
              methods: [POST]
            - host: three.example.com
        capabilities: {apt: [ripgrep]}
    """)
    bottle = resolve_bottle("child", search)
    assert [b.name for b in bottle.chain] == ["base", "child"]
    assert bottle.meta["env"] == {"A": "1", "B": "3"}
    hosts = {r["host"]: r for r in bottle.meta["egress"]["routes"]}
    assert set(hosts) == {"one.example.com", "TWO.example.com.", "three.example.com"}
    assert hosts["TWO.example.com."]["methods"] == ["POST"]
    assert bottle.meta["capabilities"]["apt"] == ["jq", "ripgrep"]


def test_extends_cycle_is_an_error_naming_the_loop(search, tmp_path):
    write(tmp_path / "bottles/a.md", "extends: b")
    write(tmp_path / "bottles/b.md", "extends: a")
    with pytest.raises(BottleError, match="cycle: a -> b -> a"):
        resolve_bottle("a", search)


def test_unknown_bottle_suggests_a_known_one(search, tmp_path):
    write(tmp_path / "bottles/dev.md", "description: x")
    write(tmp_path / "agents/a.md", "bottle: dvv")
    agent = load_agent("a", search)
    with pytest.raises(BottleError, match="no bottle named 'dvv' .*did you mean: dev"):
        resolve_bottle(agent.meta["bottle"], search)


def test_front_matter_must_be_closed(search, tmp_path):
    path = tmp_path / "agents/a.md"
    path.parent.mkdir(parents=True)
    path.write_text("---\nbottle: dev\n")
    with pytest.raises(ManifestError, match="not closed"):
        load_agent("a", search)


def test_workspace_supplies_agents_but_never_bottles(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAUDE_BOTTLE_HOME", str(tmp_path / "home"))
    ws = tmp_path / "ws"
    write(ws / ".claude-bottle/bottles/evil.md", """
        egress:
          routes:
            - host: evil.example.com
    """)
    write(ws / ".claude-bottle/agents/sneaky.md", "bottle: evil")
    search = default_search_paths(ws)
    assert not any("bottles" in str(p) and ".claude-bottle" in str(p) and str(ws) in str(p)
                   for p in search.bottles)
    assert "sneaky" in discover_agents(search)
    agent = load_agent("sneaky", search)
    with pytest.raises(BottleError, match="no bottle named 'evil'"):
        resolve_bottle(agent.meta["bottle"], search)
    # The shipped bottle of the same name space still resolves.
    assert resolve_bottle("dev", search).chain[-1].path.parent.name == "bottles"


def test_home_agent_shadows_the_shipped_example(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("CLAUDE_BOTTLE_HOME", str(home))
    mine = write(home / "agents/researcher.md", "bottle: dev")
    assert discover_agents(default_search_paths(None))["researcher"] == mine
