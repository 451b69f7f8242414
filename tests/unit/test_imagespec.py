"""Which inputs each image is keyed on."""
from __future__ import annotations

import pytest

from bottle_tasks.errors import BottleError
from bottle_tasks.imagespec import (agent_spec, base_spec, derived_dockerfile, derived_spec,
                                    image_digest, image_tag, sidecars_spec)
from bottle_tasks.paths import images_dir, repo_root
from bottle_tasks.plan import Capabilities

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_build_ca_is_an_input_of_the_registry_layers_only():
    assert "build-ca.pem" not in base_spec(images_dir()).inputs()["files"]
    for spec in (agent_spec(images_dir(), CA), sidecars_spec(images_dir(), repo_root(), CA)):
        assert "build-ca.pem" in spec.inputs()["files"]
        assert image_digest(spec, "sha256:p") != image_digest(
            type(spec)(spec.name, tuple(f for f in spec.files if f.name != "build-ca.pem"), spec.parent),
            "sha256:p")
    assert "build-ca.pem" not in derived_spec(Capabilities(apt=("jq",)), CA).inputs()["files"]
    assert "build-ca.pem" in derived_spec(Capabilities(npm=("left-pad",)), CA).inputs()["files"]


def test_sidecars_context_carries_the_project():
    names = sidecars_spec(images_dir(), repo_root(), b"").inputs()["files"]
    assert "project/pyproject.toml" in names
    assert "project/bottle_tasks/paths.py" in names
    assert "project/schemas/bottle.schema.json" in names
    assert not [n for n in names if "__pycache__" in n]


def test_parent_image_id_is_part_of_the_digest():
    spec = agent_spec(images_dir(), b"")
    assert image_digest(spec, "sha256:a") != image_digest(spec, "sha256:b")
    tag = image_tag("agent", image_digest(spec, "sha256:a"))
    assert tag.startswith("claude-bottle/agent:") and len(tag.split(":")[1]) == 12


def test_no_capabilities_means_no_derived_image():
    assert derived_spec(Capabilities(), CA) is None


def test_identical_capabilities_share_one_derived_image():
    caps = Capabilities(apt=("jq",), dockerfile=("RUN true",))
    one, two = derived_spec(caps, CA), derived_spec(Capabilities(apt=("jq",), dockerfile=("RUN true",)), CA)
    assert image_digest(one, "sha256:x") == image_digest(two, "sha256:x")
    assert image_digest(derived_spec(Capabilities(apt=("git",)), CA), "sha256:x") != image_digest(one, "sha256:x")


def test_derived_dockerfile_installs_and_ends_as_node():
    text = derived_dockerfile(Capabilities(apt=("jq", "make"), npm=("typescript@5",),
                                           dockerfile=("RUN echo hi",)))
    assert "apt-get install -y --no-install-recommends jq make" in text
    assert "npm install --global --prefix /opt/bottle/npm" in text and "typescript@5" in text
    assert text.index("RUN echo hi") < text.index("USER node")
    assert text.rstrip().splitlines()[-2:] == ["USER node", "WORKDIR /home/node"]
    # The build CA is read in the npm stage only, never in the final one.
    final = text[text.rindex("FROM ${PARENT}"):]
    assert "build-ca" not in final


def test_missing_context_is_a_sentence(tmp_path):
    with pytest.raises(BottleError, match="base.*Dockerfile is missing"):
        base_spec(tmp_path)
