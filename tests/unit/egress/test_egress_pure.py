"""Pure egress logic: routes loader, path normalisation, verdicts, DLP scanner."""
from __future__ import annotations

import ipaddress

import pytest

from bottle_tasks.egress import (
    RequestFacts, RoutesError, decide_request, is_git_push, load_routes, normalise_host, scan_text, schema_path,
)
from bottle_tasks.egress.decide import check_upstream_address, forbidden_range, plan_credentials
from bottle_tasks.egress.dlp import KnownSecret, StreamScanner, redact_text
from bottle_tasks.egress.pathnorm import normalise_path
from bottle_tasks.egress.state import known_secrets

ROUTES = """
version: 1
routes:
  - host: api.anthropic.com
    path_allowlist: ["/v1/"]
    methods: [GET, POST]
    auth: {scheme: bearer, token_env: CLAUDE_CODE_OAUTH_TOKEN}
    dlp: log
  - host: github.com
    path_allowlist: ["/org/repo.git", "/org/repo"]
    dlp: block
  - host: registry.internal.test
    auth: {scheme: header, header: X-Api-Key, token_env: REG_KEY, placeholder: reg-placeholder}
    dlp: redact
    allow_cidrs: ["172.30.0.0/16"]
"""


@pytest.fixture
def table():
    return load_routes(ROUTES)


def facts(host="api.anthropic.com", target="/v1/messages", method="POST", scheme="https", port=443, **kw):
    kw.setdefault("host_header", host)
    if scheme == "https":
        kw.setdefault("client_tls", True)
        kw.setdefault("sni", host)
        kw.setdefault("connect_target", (host, port))
    return RequestFacts(method=method, scheme=scheme, host=host, port=port, target=target, **kw)


# routes file -------------------------------------------------------------

def test_schema_is_found():
    assert schema_path("routes.schema.json").name == "routes.schema.json"


def test_load_routes_builds_frozen_table(table):
    anthropic = table.lookup("api.anthropic.com")
    assert anthropic.auth.token_env == "CLAUDE_CODE_OAUTH_TOKEN"
    assert anthropic.auth.placeholder == "bottle-placeholder"
    assert anthropic.methods == frozenset({"GET", "POST"})
    assert table.lookup("registry.internal.test").allow_cidrs == (ipaddress.ip_network("172.30.0.0/16"),)
    with pytest.raises(AttributeError):
        anthropic.host = "evil.com"


@pytest.mark.parametrize("bad, words", [
    ("version: 1\nroutes:\n  - {host: '*.github.com', dlp: block}\n", ["routes[0].host"]),
    ("version: 1\nroutes:\n  - {host: https://github.com, dlp: block}\n", ["routes[0].host"]),
    ("version: 1\nroutes:\n  - {host: github.com}\n", ["dlp", "required"]),
    ("version: 1\nroutes:\n  - {host: github.com, dlp: block, methdos: [GET]}\n", ["methdos", "valid keys"]),
    ("version: 1\nroutes:\n  - {host: github.com, dlp: block, auth: {scheme: header, token_env: T}}\n", ["header"]),
    ("version: 1\nroutes:\n  - {host: github.com, dlp: block, path_allowlist: ['/a/../b']}\n", ["path_allowlist[0]"]),
    ("version: 1\nroutes:\n  - {host: github.com, dlp: block, methods: [TRACE]}\n", ["methods[0]"]),
    ("version: 1\nroutes:\n  - {host: a.com, dlp: log}\n  - {host: a.com, dlp: log}\n", ["listed twice"]),
    ("version: 1\nroutes:\n  - {host: a.com, dlp: log, allow_cidrs: ['10.0.0.0/99']}\n", ["allow_cidrs[0]"]),
    ("routes: [\n", ["not valid YAML"]),
])
def test_invalid_routes_name_file_and_key(bad, words):
    with pytest.raises(RoutesError) as err:
        load_routes(bad, "/etc/claude-bottle/routes.yaml")
    assert "/etc/claude-bottle/routes.yaml" in str(err.value)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("raw, expected", [
    ("API.Anthropic.COM", "api.anthropic.com"),
    ("api.anthropic.com.", "api.anthropic.com"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("api.anthropic.com..", None),
    ("user@api.anthropic.com", None),
    ("api.anthropic.com:443", None),
    ("[::1]", "::1"),
])
def test_normalise_host(raw, expected):
    assert normalise_host(raw) == expected


def test_host_lookup_is_exact(table):
    assert table.lookup("API.ANTHROPIC.COM.") is not None
    for near in ("anthropic.com", "evil.api.anthropic.com", "api.anthropic.com.evil.com", "api-anthropic.com"):
        assert table.lookup(near) is None


# paths -------------------------------------------------------------------

@pytest.mark.parametrize("raw, path, dots", [
    ("/v1/messages?beta=true", "/v1/messages", False),
    ("//v1///messages", "/v1/messages", False),
    ("/v1/./messages", "/v1/messages", True),
    ("/v1/%2e%2e/secret", "/secret", True),
    ("/v1/.%2E/secret", "/secret", True),
    ("/%7Euser/%41b", "/~user/Ab", False),
])
def test_normalise_path(raw, path, dots):
    got = normalise_path(raw)
    assert (got.path, got.had_dot_segments, got.refused) == (path, dots, None)


@pytest.mark.parametrize("raw", ["/v1%2F..%2Fsecret", "/v1%2fsecret", "/..", "/v1/../../etc", "/a\\b", "/a%00", "/a%zz", "v1"])
def test_normalise_path_refuses(raw):
    assert normalise_path(raw).refused


# route decisions ---------------------------------------------------------

def test_allowed_request(table):
    verdict = decide_request(table, facts())
    assert verdict.allowed and verdict.route.host == "api.anthropic.com"
    assert verdict.path.target == "/v1/messages"


@pytest.mark.parametrize("target, rule", [
    ("/v1/../secret", "path"),
    ("/v1/%2e%2e/secret", "path"),
    ("/v1%2Fsecret", "path"),
    ("/v2/messages", "path"),
    ("/v1beta", "path"),
])
def test_path_attacks(table, target, rule):
    verdict = decide_request(table, facts(target=target))
    assert not verdict.allowed and verdict.rule == rule


def test_traversal_reason_mentions_dot_segments(table):
    assert "dot segments" in decide_request(table, facts(target="/v1/../secret")).reason


def test_prefix_without_slash_stops_at_segment_boundary(table):
    ok = facts(host="github.com", target="/org/repo.git/info/refs", method="GET")
    assert decide_request(table, ok).allowed
    assert not decide_request(table, facts(host="github.com", target="/org/repo-evil/x", method="GET")).allowed


@pytest.mark.parametrize("method", ["TRACE", "TRACK", "trace"])
def test_trace_and_track_always_refused(table, method):
    verdict = decide_request(table, facts(host="github.com", target="/org/repo", method=method))
    assert not verdict.allowed and verdict.rule == "method"


def test_method_allowlist(table):
    assert decide_request(table, facts(method="DELETE")).rule == "method"
    assert decide_request(table, facts(method="get", target="/v1/models")).allowed


def test_unknown_host(table):
    verdict = decide_request(table, facts(host="evil.com"))
    assert not verdict.allowed and verdict.rule == "route" and "evil.com" in verdict.reason


@pytest.mark.parametrize("kw", [
    {"sni": "evil.com"},
    {"host_header": "evil.com"},
    {"connect_target": ("evil.com", 443)},
    {"connect_target": ("api.anthropic.com", 8443)},
    {"sni": None},
    {"host_header": "api.anthropic.com:8443"},
])
def test_fronting_attacks(table, kw):
    verdict = decide_request(table, facts(**kw))
    assert not verdict.allowed and verdict.rule == "fronting"


def test_fronting_tolerates_case_and_trailing_dot(table):
    assert decide_request(table, facts(sni="API.anthropic.com", host_header="api.anthropic.com.:443")).allowed


def test_absolute_url_vs_host_header(table):
    plain = dict(scheme="http", port=80, client_tls=False)
    assert decide_request(table, facts(host="github.com", target="/org/repo", method="GET", host_header="evil.com", **plain)).rule == "fronting"
    assert decide_request(table, facts(host="github.com", target="/org/repo", method="GET", **plain)).allowed


def test_connect_without_tls_refused(table):
    verdict = decide_request(table, facts(scheme="http", client_tls=False, connect_target=("api.anthropic.com", 443)))
    assert not verdict.allowed and "TLS" in verdict.reason


@pytest.mark.parametrize("path, query, ctype, push", [
    ("/org/repo.git/git-receive-pack", "", "application/x-git-receive-pack-request", True),
    ("/org/repo.git/info/refs", "?service=git-receive-pack", "", True),
    ("/org/repo.git/info/refs", "?service=git%2Dreceive%2Dpack", "", True),
    ("/org/repo.git/GIT-RECEIVE-PACK", "", "", True),
    ("/org/repo.git/x", "", "application/x-git-receive-pack-request", True),
    ("/org/repo.git/info/refs", "?service=git-upload-pack", "", False),
    ("/org/repo.git/git-upload-pack", "", "application/x-git-upload-pack-request", False),
])
def test_is_git_push(path, query, ctype, push):
    assert is_git_push(path, query, ctype) is push


def test_git_receive_pack_refused_fetch_allowed(table):
    push = facts(host="github.com", target="/org/repo.git/info/refs?service=git-receive-pack", method="GET")
    assert decide_request(table, push).rule == "git-push"
    fetch = facts(host="github.com", target="/org/repo.git/info/refs?service=git-upload-pack", method="GET")
    assert decide_request(table, fetch).allowed


# credentials -------------------------------------------------------------

def test_credentials_injected_over_verified_tls_only(table):
    route = table.lookup("api.anthropic.com")
    env = {"CLAUDE_CODE_OAUTH_TOKEN": "sk-real"}
    plan = plan_credentials(route, facts(), env, upstream_tls_verified=True)
    assert plan.inject == ("Authorization", "Bearer sk-real")
    assert "Authorization" in plan.strip and "Proxy-Authorization" in plan.strip
    unverified = plan_credentials(route, facts(), env, upstream_tls_verified=False)
    assert unverified.inject is None and not unverified.verdict.allowed
    plain = plan_credentials(route, facts(scheme="http", port=80, client_tls=False), env, True)
    assert plain.inject is None and not plain.verdict.allowed


def test_header_and_basic_schemes(table):
    route = table.lookup("registry.internal.test")
    plan = plan_credentials(route, facts(host="registry.internal.test"), {"REG_KEY": "k123"}, True)
    assert plan.inject == ("X-Api-Key", "k123") and "X-Api-Key" in plan.strip
    basic = load_routes("version: 1\nroutes:\n  - {host: a.test, dlp: log, auth: {scheme: basic, token_env: B}}\n")
    plan = plan_credentials(basic.lookup("a.test"), facts(host="a.test"), {"B": "u:p"}, True)
    assert plan.inject == ("Authorization", "Basic dTpw")


def test_missing_token_blocks_with_env_name(table):
    plan = plan_credentials(table.lookup("api.anthropic.com"), facts(), {}, True)
    assert not plan.verdict.allowed and "CLAUDE_CODE_OAUTH_TOKEN" in plan.verdict.reason


# SSRF --------------------------------------------------------------------

@pytest.mark.parametrize("ip, label", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("172.16.0.1", "private"),
    ("192.168.1.1", "private"), ("169.254.169.254", "cloud metadata"), ("fd00:ec2::254", "cloud metadata"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"), ("100.64.0.1", "CGNAT"), ("0.0.0.0", "unspecified"),
    ("::", "unspecified"), ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "cloud metadata"),
    ("64:ff9b::a00:1", "private"), ("2002:7f00:1::", "loopback"), ("fc00::1", "private"),
    ("8.8.8.8", None), ("2606:4700::1111", None),
])
def test_forbidden_ranges(ip, label):
    assert forbidden_range(ipaddress.ip_address(ip)) == label


def test_upstream_address_check(table):
    route = table.lookup("registry.internal.test")
    ip = ipaddress.ip_address
    assert check_upstream_address(route, route.host, [ip("172.30.1.5")]).allowed
    refused = check_upstream_address(route, route.host, [ip("172.30.1.5"), ip("169.254.169.254")])
    assert not refused.allowed and "169.254.169.254" in refused.reason
    assert not check_upstream_address(table.lookup("github.com"), "github.com", [ip("10.0.0.1")]).allowed
    assert check_upstream_address(table.lookup("github.com"), "github.com", [ip("140.82.112.3")]).allowed
    assert not check_upstream_address(None, "x.test", []).allowed


# DLP ---------------------------------------------------------------------

def test_scan_text_finds_aws_key_with_line_and_redacted_snippet():
    text = 'line one\n{"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE"}\n'
    [finding] = scan_text(text)
    assert finding.kind == "AWS Access Key" and finding.line_no == 2
    assert "AKIAIOSFODNN7EXAMPLE" not in finding.snippet_redacted and "[REDACTED:" in finding.snippet_redacted


def test_scan_text_extra_secrets_and_encodings():
    token = "sk-ant-oat01-abcdef/123+xyz"
    from urllib.parse import quote
    import base64
    for text in (f"x={token}", f"x={quote(token, safe='')}", base64.b64encode(token.encode()).decode()):
        findings = scan_text(text, [token])
        assert [f.kind for f in findings] == ["bottle token"]
        assert token not in findings[0].snippet_redacted


def test_scan_text_clean_code_has_no_findings():
    code = "def f(x):\n    return hashlib.sha256(x).hexdigest()  # e3b0c44298fc1c149afbf4c8996fb924\n"
    assert scan_text(code) == []


def test_redact_text():
    text, findings = redact_text("key=AKIAIOSFODNN7EXAMPLE&tok=ghp_" + "a" * 36)
    assert "AKIA" not in text and "ghp_" not in text and len(findings) == 2


def test_stream_scanner_finds_secret_split_across_chunks():
    scanner = StreamScanner(["the-real-token-value"], overlap=64)
    assert scanner.feed(b"xxxx the-real-") == []
    assert [f.kind for f in scanner.feed(b"token-value yyyy")] == ["bottle token"]
    assert scanner.feed(b"more") == []


def test_known_secrets_owned_by_every_route_sharing_them(table):
    secrets = known_secrets(table, {"CLAUDE_CODE_OAUTH_TOKEN": "sk-real", "REG_KEY": "k" * 10})
    by_value = {s.value: s for s in secrets}
    assert by_value["sk-real"].owners == {"api.anthropic.com"}
    assert by_value["bottle-placeholder"].owners == {"api.anthropic.com"}
    assert by_value["reg-placeholder"].owners == {"registry.internal.test"}
    assert isinstance(by_value["sk-real"], KnownSecret)
