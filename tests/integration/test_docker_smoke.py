"""The daemon the suite relies on is real: start and remove a labelled container."""
from __future__ import annotations

from bottle_tasks import inventory, labels


def test_labelled_container_is_seen_then_gone(docker_client, tiny_image, test_labels):
    slug = test_labels[labels.SLUG]
    container = docker_client.containers.run(tiny_image, ["sleep", "300"], detach=True,
                                             labels={**test_labels, labels.ROLE: "agent"})
    try:
        container.reload()
        assert container.status == "running"
        seen = {b.slug: b for b in inventory.bottles()}
        assert slug in seen
        assert seen[slug].services == {"agent": "running"}
    finally:
        container.remove(force=True)
    assert slug not in {b.slug for b in inventory.bottles()}


def test_doctor_finds_this_machine_ready_for_the_docker_backend(docker_client, tmp_path):
    from tests.conftest import run_doit

    result = run_doit("doctor", env={"CLAUDE_CODE_OAUTH_TOKEN": "test-dummy-token",
                                     "CLAUDE_BOTTLE_HOME": str(tmp_path / "home"),
                                     "CLAUDE_BOTTLE_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(l.startswith("ok    docker daemon") for l in lines)
    assert any(l.startswith("ok    docker compose v2") for l in lines)
    assert any(l.startswith("ok    backend docker (default)") for l in lines)
    assert any(l.startswith("ok    agent researcher") and "plans in bottle dev" in l for l in lines)
    assert "ready: `doit start:<agent>` can run here" in result.stdout
