"""The gate in front of an https upstream that wants a token: a real git smart-HTTP server over TLS on loopback.

The token lives only in the gate's environment (as in the sidecars container);
the agent's clone talks git:// to the gate and never sees it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bottle_tasks.egress.harness import stop_process
from tests.integration.fakes.tls import make_upstream_tls

from .conftest import bare_upstream, commit_file, free_port, git

FAKE = Path(__file__).parents[2] / "integration" / "fakes" / "git_https_upstream.py"
TOKEN_ENV = "BOTTLE_GIT_TOKEN"
TOKEN = "ghs_" + "9d2c41be" * 4
USER = "x-access-token"


class HttpsUpstream:
    def __init__(self, tmp_path: Path):
        self.root = tmp_path / "https-root"
        self.root.mkdir()
        self.repo = bare_upstream(self.root / "project.git")
        self.ca = make_upstream_tls(tmp_path / "tls", ["localhost"])
        self.port = free_port()
        self.log = tmp_path / "https-upstream.log"
        self.url = f"https://localhost:{self.port}/project.git"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(FAKE), "--root", str(self.root), "--port", str(self.port),
                 "--cert", str(self.ca.parent / "cert.pem"), "--key", str(self.ca.parent / "key.pem"),
                 "--user", USER, "--token-env", TOKEN_ENV],
                env={**os.environ, TOKEN_ENV: TOKEN}, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while '"listening"' not in self.log.read_text():
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "the https upstream did not start"
            time.sleep(0.05)

    def requests(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if '"method"' in line]

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture
def https_upstream(tmp_path):
    upstream = HttpsUpstream(tmp_path)
    yield upstream
    upstream.stop()


def remote(upstream: HttpsUpstream, name: str = "origin") -> dict:
    return {"name": name, "upstream": upstream.url, "token_env": TOKEN_ENV, "token_user": USER}


def test_clone_and_push_through_the_gate_carry_the_token_to_the_upstream(local_gate, https_upstream, tmp_path):
    gate = local_gate([remote(https_upstream)], env={TOKEN_ENV: TOKEN}, extra_env_names=[TOKEN_ENV],
                      ca_file=str(https_upstream.ca))
    work = tmp_path / "agent"
    git("clone", "-q", gate.url("origin"), str(work))
    assert (work / "README.md").read_text() == "hello\n"
    git("checkout", "-q", "-b", "agent/feature", cwd=work)
    sha = commit_file(work, "feature.txt", "new work\n")
    push = git("push", "origin", "agent/feature", cwd=work)
    assert "git-gate: pushed agent/feature" in push.stderr
    assert git("rev-parse", "refs/heads/agent/feature", cwd=https_upstream.repo).stdout.strip() == sha
    requests = https_upstream.requests()
    assert any(r["path"].endswith("/git-receive-pack") for r in requests)
    assert all(r["authorised"] for r in requests)
    assert TOKEN not in (gate.root / "daemon.log").read_text() + gate.log_file.read_text()


def test_a_wrong_token_fails_the_fetch_without_revealing_it(local_gate, https_upstream, tmp_path):
    wrong = "ghs_" + "0" * 32
    gate = local_gate([remote(https_upstream)], env={TOKEN_ENV: wrong}, ca_file=str(https_upstream.ca))
    clone = git("clone", gate.url("origin"), str(tmp_path / "agent"), check=False)
    assert clone.returncode != 0
    assert "git-gate: cannot refresh 'origin'" in clone.stderr
    assert "the upstream refused the gate's credentials (HTTP 401)" in clone.stderr
    assert wrong not in clone.stderr
    assert [r["authorised"] for r in https_upstream.requests()] and not any(
        r["authorised"] for r in https_upstream.requests())


def test_a_missing_token_is_named_and_nothing_is_sent(local_gate, https_upstream, tmp_path):
    gate = local_gate([remote(https_upstream)], env={}, ca_file=str(https_upstream.ca))
    clone = git("clone", gate.url("origin"), str(tmp_path / "agent"), check=False)
    assert clone.returncode != 0
    assert f"{TOKEN_ENV} is not set" in clone.stderr
    assert https_upstream.requests() == []


def test_an_upstream_the_ca_does_not_vouch_for_is_never_sent_the_token(local_gate, https_upstream, tmp_path):
    # No ca_file: the system store does not know the test CA, as with a server impersonating the upstream.
    gate = local_gate([remote(https_upstream)], env={TOKEN_ENV: TOKEN})
    clone = git("clone", gate.url("origin"), str(tmp_path / "agent"), check=False)
    assert clone.returncode != 0
    assert "SSL certificate problem" in clone.stderr or "certificate" in clone.stderr.lower()
    assert https_upstream.requests() == []


def test_the_token_goes_to_its_upstream_only(local_gate, https_upstream, tmp_path):
    # Two remotes on the same server: only the one with auth sends the header.
    bare_upstream(https_upstream.root / "public.git")
    public = {"name": "public", "upstream": https_upstream.url.replace("project.git", "public.git")}
    gate = local_gate([remote(https_upstream), public], env={TOKEN_ENV: TOKEN}, ca_file=str(https_upstream.ca))
    probe = git("ls-remote", gate.url("public"), cwd=tmp_path, check=False)
    assert probe.returncode != 0  # the fake wants auth for every repository
    requests = https_upstream.requests()
    assert requests and not any(r["had_auth"] for r in requests)
