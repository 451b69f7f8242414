"""The extra CA that build containers trust to reach package registries.

Users behind a TLS-intercepting proxy (and this workplace) need their proxy's
CA inside ``docker build`` for pip and npm. It comes from
``$CLAUDE_BOTTLE_BUILD_CA`` (a PEM file; ``none`` turns the feature off) or,
when that is unset, from the host's bundle: the certificates the host trusts
that a stock Debian bundle lacks. Comparing against certifi (the same Mozilla
roots Debian's ``ca-certificates`` ships) keeps the result to the few extra
CAs, so routine root-store updates on the host do not change image digests.

Only the build stages that fetch from registries put it in their context,
and only their throw-away builder stages read it: final images never trust it.
Reads files only; no Docker.
"""
from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import BottleError

__all__ = ["BuildCA", "HOST_BUNDLE", "resolve_build_ca", "pem_blocks", "extra_certs"]

HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
ENV = "CLAUDE_BOTTLE_BUILD_CA"

_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----", re.S)


@dataclass(frozen=True)
class BuildCA:
    pem: bytes      # normalised PEM, empty when no extra CA is needed
    source: str     # where it came from, for messages


def pem_blocks(data: bytes) -> list[bytes]:
    """The DER bytes of each certificate in a PEM bundle (malformed blocks skipped)."""
    out = []
    for body in _PEM_RE.findall(data):
        try:
            out.append(base64.b64decode(b"".join(body.split()), validate=True))
        except (binascii.Error, ValueError):
            continue
    return out


def _to_pem(ders: list[bytes]) -> bytes:
    out = []
    for der in ders:
        b64 = base64.b64encode(der).decode()
        lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
        out.append("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n")
    return "".join(out).encode()


def extra_certs(host_bundle: bytes, reference_bundle: bytes) -> bytes:
    """PEM of the certificates in ``host_bundle`` that ``reference_bundle`` lacks, in host order."""
    known = set(pem_blocks(reference_bundle))
    seen: set[bytes] = set()
    extra = []
    for der in pem_blocks(host_bundle):
        if der not in known and der not in seen:
            seen.add(der)
            extra.append(der)
    return _to_pem(extra)


def _reference_bundle() -> bytes | None:
    try:
        import certifi
        return Path(certifi.where()).read_bytes()
    except (ImportError, OSError):
        pass
    try:
        from pip._vendor import certifi as vendored  # pip ships the same Mozilla bundle
        return Path(vendored.where()).read_bytes()
    except (ImportError, OSError):
        return None


def resolve_build_ca(environ: dict[str, str] | None = None, host_bundle: Path = HOST_BUNDLE,
                     reference: bytes | None = None) -> BuildCA:
    env = os.environ if environ is None else environ
    explicit = env.get(ENV)
    if explicit is not None and explicit.strip().lower() in ("", "none", "off"):
        return BuildCA(b"", f"{ENV}={explicit!r} (disabled)")
    if explicit:
        path = Path(explicit).expanduser()
        try:
            ders = pem_blocks(path.read_bytes())
        except OSError as exc:
            raise BottleError(f"{ENV}={explicit}: cannot read the build CA file ({exc.strerror}); "
                              "point it at a PEM file or unset it") from None
        if not ders:
            raise BottleError(f"{ENV}={explicit}: no PEM certificate found in that file; "
                              "it must hold one or more '-----BEGIN CERTIFICATE-----' blocks")
        return BuildCA(_to_pem(ders), str(path))
    try:
        host = Path(host_bundle).read_bytes()
    except OSError:
        return BuildCA(b"", f"no host bundle at {host_bundle}")
    ref = reference if reference is not None else _reference_bundle()
    if ref is None:
        return BuildCA(b"", "no reference bundle (certifi) to compare the host bundle with")
    return BuildCA(extra_certs(host, ref), f"host bundle {host_bundle} (CAs beyond the Mozilla roots)")
