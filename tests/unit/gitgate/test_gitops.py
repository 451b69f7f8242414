"""The environment and config of the gate's own git commands."""
from __future__ import annotations

import base64

import pytest

from bottle_tasks.gitgate.config import GateConfig, GateRemote
from bottle_tasks.gitgate.gitops import GateError, gate_env, gate_gitconfig

HTTPS = GateRemote(name="origin", upstream="https://git.example/org/repo.git", token_env="GIT_TOKEN",
                   token_user="x-access-token")


def test_https_token_is_an_extra_header_scoped_to_its_upstream_in_the_environment():
    config = GateConfig(remotes=(HTTPS,), git_dir="/g")
    env = gate_env(config, HTTPS, base={"GIT_TOKEN": "tok3n", "PATH": "/bin"})
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["GIT_CONFIG_KEY_0"] == "http.https://git.example/org/repo.git.extraHeader"
    header = env["GIT_CONFIG_VALUE_0"]
    assert header.startswith("Authorization: Basic ")
    assert base64.b64decode(header.split()[-1]) == b"x-access-token:tok3n"


def test_a_missing_token_is_a_gate_error_naming_the_variable():
    config = GateConfig(remotes=(HTTPS,), git_dir="/g")
    with pytest.raises(GateError, match="GIT_TOKEN is not set"):
        gate_env(config, HTTPS, base={})


def test_inherited_git_config_and_tls_overrides_never_reach_the_gates_git():
    config = GateConfig(remotes=(HTTPS,), git_dir="/g", ca_file="/run/ca.pem")
    base = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.sslVerify", "GIT_CONFIG_VALUE_0": "false",
            "GIT_SSL_NO_VERIFY": "1", "GIT_SSL_CAINFO": "/etc/ssl/certs/ca-certificates.crt"}
    env = gate_env(config, None, base=base)
    assert "GIT_CONFIG_COUNT" not in env and "GIT_CONFIG_KEY_0" not in env and "GIT_SSL_NO_VERIFY" not in env
    assert env["GIT_SSL_CAINFO"] == "/run/ca.pem"
    assert "sslCAInfo = /run/ca.pem" in gate_gitconfig(config)


def test_ssh_and_local_remotes_get_no_header():
    local = GateRemote(name="ws", upstream="/srv/ws")
    env = gate_env(GateConfig(remotes=(local,), git_dir="/g"), local, base={"GIT_TOKEN": "x"})
    assert "GIT_CONFIG_COUNT" not in env
