"""The egress CA: the properties mitmproxy and OpenSSL chain validation rely on."""
from __future__ import annotations

import datetime as dt
import stat

from cryptography import x509

from bottle_tasks.ca import RENEW_BEFORE, VALIDITY, ca_files, ensure_ca, mint_ca, needs_renewal

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def test_ca_has_ski_equal_to_public_key_hash_and_ca_constraints():
    cert_pem, _ = mint_ca("t", NOW)
    cert = x509.load_pem_x509_certificate(cert_pem)
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign


def test_ca_files_are_private_and_reused_while_valid(tmp_path):
    d = tmp_path / "ca"
    assert ensure_ca(d, "t", NOW) == "none yet"
    files = ca_files(d)
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.mitmproxy.stat().st_mode) == 0o600
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    before = files.cert.read_bytes()
    assert ensure_ca(d, "t", NOW + dt.timedelta(days=10)) is None
    assert files.cert.read_bytes() == before


def test_ca_is_reminted_before_expiry(tmp_path):
    d = tmp_path / "ca"
    ensure_ca(d, "t", NOW)
    before = ca_files(d).cert.read_bytes()
    later = NOW + VALIDITY - RENEW_BEFORE + dt.timedelta(days=1)
    assert "expires" in ensure_ca(d, "t", later)
    assert ca_files(d).cert.read_bytes() != before


def test_mismatched_key_is_detected():
    cert_a, _ = mint_ca("a", NOW)
    _, key_b = mint_ca("b", NOW)
    assert needs_renewal(cert_a, key_b, NOW) == "the key does not match the certificate"
