"""Subnet choice, the bundle's compose project and the microVM's environment."""
from __future__ import annotations

import ipaddress
import os

import yaml

from bottle_tasks import labels
from bottle_tasks.backends import availability, smolmachines


def test_subnet_is_stable_per_slug_and_avoids_used_ranges():
    first = smolmachines.pick_subnet("researcher", [])
    assert first == smolmachines.pick_subnet("researcher", ["172.17.0.0/16"])
    moved = smolmachines.pick_subnet("researcher", [str(first)])
    assert moved != first and not moved.overlaps(first)
    assert moved.subnet_of(smolmachines.SUBNET_POOL)
    assert smolmachines.bundle_ip(ipaddress.ip_network("10.213.0.16/28")) == "10.213.0.18"


COMPOSE = {
    "name": "claude-bottle-a",
    "services": {
        "sidecars": {"image": "s", "labels": {labels.BACKEND: "docker", labels.ROLE: "sidecars"},
                     "networks": {"internal": {"aliases": ["egress"]}, "egress": {}}},
        "agent": {"image": "a", "networks": ["internal"]},
    },
    "networks": {"internal": {"name": "claude-bottle-a-internal", "internal": True,
                              "labels": {labels.BACKEND: "docker"}},
                 "egress": {"name": "claude-bottle-a-egress", "labels": {labels.BACKEND: "docker"}}},
    "volumes": {"home": {"name": "claude-bottle-a-home"}, "gitmirrors": {"name": "claude-bottle-a-gitmirrors",
                                                                         "labels": {labels.BACKEND: "docker"}}},
}


def test_bundle_compose_drops_the_agent_and_pins_the_bundle():
    subnet = ipaddress.ip_network("10.213.9.0/28")
    doc = yaml.safe_load(smolmachines.bundle_compose(yaml.safe_dump(COMPOSE), "a", subnet))
    assert set(doc["services"]) == {"sidecars"}
    side = doc["services"]["sidecars"]
    assert side["networks"]["bundle"]["ipv4_address"] == "10.213.9.2"
    assert {"egress", "git-gate", "supervise"} <= set(side["networks"]["bundle"]["aliases"])
    assert doc["networks"]["bundle"]["ipam"]["config"] == [{"subnet": "10.213.9.0/28"}]
    assert "internal" not in doc["networks"] and set(doc["volumes"]) == {"gitmirrors"}
    every = [side["labels"], *(n["labels"] for n in doc["networks"].values()), doc["volumes"]["gitmirrors"]["labels"]]
    assert all(lab[labels.BACKEND] == "smolmachines" for lab in every)


def test_machine_env_points_the_proxy_at_the_bundle_ip(bottle_home):
    from tests.unit.test_plan import researcher_plan
    env = smolmachines.machine_env(researcher_plan(backend="smolmachines"), "10.213.9.2")
    assert env["HTTPS_PROXY"] == env["http_proxy"] == "http://10.213.9.2:9099"
    assert env["NO_PROXY"].endswith(",10.213.9.2")


def test_kvm_problem_names_the_device(tmp_path):
    missing = availability.kvm_problem(str(tmp_path / "kvm"))
    assert missing and "does not exist" in missing
    readonly = tmp_path / "ro"
    readonly.write_text("")
    readonly.chmod(0o400)
    if os.geteuid() != 0:
        assert "not usable" in availability.kvm_problem(str(readonly))
    writable = tmp_path / "rw"
    writable.write_text("")
    assert availability.kvm_problem(str(writable)) is None


def test_unavailable_smolmachines_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("bottle_tasks.dockerhost.daemon_problem", lambda: None)
    problems = availability.problems("smolmachines")
    assert any("smolvm is not on PATH" in p for p in problems)
    assert availability.problems("docker") == []
    assert "unknown" in availability.problems("podman")[0]
