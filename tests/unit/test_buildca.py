"""The build CA: an explicit file, or the host's CAs beyond the stock Mozilla roots."""
from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bottle_tasks.buildca import extra_certs, pem_blocks, resolve_build_ca
from bottle_tasks.errors import BottleError


def _ca(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


PUBLIC_A, PUBLIC_B, PROXY = _ca("public a"), _ca("public b"), _ca("corporate proxy")


def test_extra_certs_are_the_ones_the_reference_lacks():
    host = PUBLIC_A + PROXY + PUBLIC_B + PROXY
    extra = extra_certs(host, PUBLIC_A + PUBLIC_B)
    assert pem_blocks(extra) == pem_blocks(PROXY)


def test_host_bundle_matching_the_reference_needs_no_build_ca(tmp_path):
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_bytes(PUBLIC_A + PUBLIC_B)
    assert resolve_build_ca({}, bundle, reference=PUBLIC_B + PUBLIC_A).pem == b""


def test_host_bundle_with_a_proxy_ca_yields_it(tmp_path):
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_bytes(PUBLIC_A + PROXY)
    ca = resolve_build_ca({}, bundle, reference=PUBLIC_A)
    assert pem_blocks(ca.pem) == pem_blocks(PROXY)


def test_explicit_file_wins_and_none_disables(tmp_path):
    explicit = tmp_path / "corp.pem"
    explicit.write_bytes(b"comment\n" + PROXY)
    host = tmp_path / "host.crt"
    host.write_bytes(PUBLIC_A + PUBLIC_B)
    ca = resolve_build_ca({"CLAUDE_BOTTLE_BUILD_CA": str(explicit)}, host, reference=b"")
    assert pem_blocks(ca.pem) == pem_blocks(PROXY)
    assert resolve_build_ca({"CLAUDE_BOTTLE_BUILD_CA": "none"}, host, reference=b"").pem == b""


def test_unusable_explicit_file_is_a_sentence(tmp_path):
    with pytest.raises(BottleError, match="CLAUDE_BOTTLE_BUILD_CA=.*cannot read"):
        resolve_build_ca({"CLAUDE_BOTTLE_BUILD_CA": str(tmp_path / "missing.pem")})
    empty = tmp_path / "empty.pem"
    empty.write_text("not a cert\n")
    with pytest.raises(BottleError, match="no PEM certificate"):
        resolve_build_ca({"CLAUDE_BOTTLE_BUILD_CA": str(empty)})
