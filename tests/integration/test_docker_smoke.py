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
