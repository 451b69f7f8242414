"""The smolvm argv we build, checked against smolvm's CLI definitions.

The flag sets below are copied from smolvm's clap structs (src/cli/pack.rs
PackCreateCmd, src/cli/machine.rs CreateCmd/StartCmd/ExecCmd/CpCmd/LsCmd/
StopCmd/DeleteCmd at commit a5df500118e2): a flag we emit that smolvm does
not define fails here, not on a user's machine.
"""
from __future__ import annotations

import pytest

from bottle_tasks.backends import smolvm

FLAGS = {
    ("pack", "create"): {"--image", "-I", "--output", "-o", "--cpus", "--mem", "--entrypoint", "--single-file"},
    ("machine", "create"): {"--name", "-n", "--from", "--allow-cidr", "--allow-host", "--label", "--env", "-e",
                            "--secret-env", "--workdir", "-w", "--cpus", "--mem", "--net", "--volume", "-v"},
    ("machine", "start"): {"--name", "-n"},
    ("machine", "exec"): {"--name", "-w", "--workdir", "-e", "--env", "-i", "--interactive", "-t", "--tty",
                          "--timeout", "--stream", "-d", "--detach"},
    ("machine", "cp"): {"--mode", "--uid", "--gid"},
    ("machine", "ls"): {"--json", "-v", "--verbose"},
    ("machine", "stop"): {"--name", "-n"},
    ("machine", "delete"): {"--name", "-n", "--force", "-f", "--cascade"},
}
TAKES_VALUE = {"--image", "-I", "--output", "-o", "--cpus", "--mem", "--name", "-n", "--from", "--allow-cidr",
               "--label", "--env", "-e", "--secret-env", "--workdir", "-w", "--mode", "--uid", "--gid", "--timeout"}


def _flags(argv: list[str]) -> tuple[tuple[str, str], list[str], list[str]]:
    """(subcommand, flags used, positionals) of a smolvm argv, stopping at ``--``."""
    assert argv[0] == "smolvm"
    sub, rest = (argv[1], argv[2]), argv[3:]
    flags, positionals, i = [], [], 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            break
        if arg.startswith("-"):
            flags.append(arg)
            i += 2 if arg in TAKES_VALUE else 1
        else:
            positionals.append(arg)
            i += 1
    return sub, flags, positionals


def _check(argv: list[str]) -> list[str]:
    sub, flags, positionals = _flags(argv)
    unknown = set(flags) - FLAGS[sub]
    assert not unknown, f"smolvm {' '.join(sub)} has no {sorted(unknown)}"
    return positionals


def test_pack_create_names_the_stub_and_the_image():
    argv = smolvm.pack_create_argv("localhost:4321/claude-bottle/a:0123456789ab", "/store/.x.pack/abc")
    assert _check(argv) == []
    assert argv[argv.index("--image") + 1] == "localhost:4321/claude-bottle/a:0123456789ab"
    assert argv[argv.index("--output") + 1] == "/store/.x.pack/abc"
    with pytest.raises(ValueError, match="stub"):
        smolvm.pack_create_argv("img", "/store/abc.smolmachine")


def test_machine_create_limits_the_network_to_the_bundle():
    argv = smolvm.machine_create_argv(
        "claude-bottle-a", "/store/abc.smolmachine", allow_cidrs=["10.213.4.18/32"],
        labels={"dev.claude-bottle.slug": "a"}, env={"HTTP_PROXY": "http://10.213.4.18:9099"},
        secret_env={"GH_TOKEN": "HOST_GH"}, workdir="/workspace", cpus=2, mem_mib=4096)
    assert _check(argv) == []
    assert argv[argv.index("--from") + 1] == "/store/abc.smolmachine"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--allow-cidr"] == ["10.213.4.18/32"]
    assert "--net" not in argv  # --allow-cidr implies it; plain --net would open everything
    assert "GH_TOKEN=HOST_GH" in argv and not any("secret-value" in a for a in argv)


def test_exec_wraps_non_root_users_in_runuser_after_the_separator():
    argv = smolvm.machine_exec_argv("m", ["claude", "-p", "hi"], user="node", interactive=True, tty=True,
                                    workdir="/workspace")
    assert _check(argv) == []
    tail = argv[argv.index("--") + 1:]
    assert tail == ["runuser", "-u", "node", "--", "env", "HOME=/home/node", "claude", "-p", "hi"]
    root = smolvm.machine_exec_argv("m", ["id"])
    assert root[root.index("--") + 1:] == ["id"] and "-t" not in root


def test_cp_uploads_to_machine_path_with_owner_and_mode():
    argv = smolvm.machine_cp_argv("m", "/tmp/f", "/home/node/.gitconfig", mode=0o600, uid=1000, gid=1000)
    assert _check(argv) == ["/tmp/f", "m:/home/node/.gitconfig"]
    assert argv[argv.index("--mode") + 1] == "600"


@pytest.mark.parametrize("argv", [smolvm.machine_ls_argv(), smolvm.machine_start_argv("m"),
                                  smolvm.machine_stop_argv("m"), smolvm.machine_delete_argv("m")])
def test_lifecycle_commands_use_defined_flags(argv):
    _check(argv)


def test_parse_machines_reads_ls_json():
    text = '[{"name": "claude-bottle-a", "state": "running", "labels": {"k": "v"}, "cpus": 2}]'
    (m,) = smolvm.parse_machines(text)
    assert (m.name, m.running, m.labels) == ("claude-bottle-a", True, {"k": "v"})
    assert smolvm.parse_machines("[]") == []
