"""The bottle's egress CA: minted with ``cryptography``, reused while valid.

mitmproxy stamps each leaf it mints with an Authority Key Identifier equal to
the SHA-1 of the issuer's public key. OpenSSL finds the issuer by matching
that against the CA's Subject Key Identifier, so the CA's SKI must be exactly
that hash (``x509.SubjectKeyIdentifier.from_public_key``); any other SKI
makes every TLS handshake in the agent fail with "unable to get local issuer".
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .fsutil import atomic_write

__all__ = ["CaFiles", "ca_files", "mint_ca", "needs_renewal", "ensure_ca", "VALIDITY", "RENEW_BEFORE"]

VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class CaFiles:
    cert: Path        # public certificate, what the agent trusts
    key: Path         # private key, 0600
    mitmproxy: Path   # key + cert in one file, the form mitmproxy's confdir expects, 0600


def ca_files(directory: Path) -> CaFiles:
    return CaFiles(directory / "ca.pem", directory / "ca-key.pem", directory / "mitmproxy-ca.pem")


def mint_ca(common_name: str, now: dt.datetime) -> tuple[bytes, bytes]:
    """A fresh CA certificate and key (PEM), valid from ``now`` for :data:`VALIDITY`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "claude-bottle"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def needs_renewal(cert_pem: bytes, key_pem: bytes, now: dt.datetime) -> str | None:
    """Why the CA must be re-minted, or None while it is good."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except ValueError as exc:
        return f"unreadable ({exc})"
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        return "the key does not match the certificate"
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        return f"it expires {cert.not_valid_after_utc:%Y-%m-%d}"
    return None


def ensure_ca(directory: Path, common_name: str, now: dt.datetime | None = None) -> str | None:
    """Mint the CA into ``directory`` unless a valid one is there; return why it was (re)minted."""
    now = now or dt.datetime.now(dt.timezone.utc)
    files = ca_files(directory)
    if files.cert.exists() and files.key.exists() and files.mitmproxy.exists():
        why = needs_renewal(files.cert.read_bytes(), files.key.read_bytes(), now)
        if why is None:
            return None
    else:
        why = "none yet"
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    cert_pem, key_pem = mint_ca(common_name, now)
    atomic_write(files.key, key_pem, 0o600)
    atomic_write(files.mitmproxy, key_pem + cert_pem, 0o600)
    atomic_write(files.cert, cert_pem, 0o644)
    return why
