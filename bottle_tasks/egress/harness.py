"""Loopback-only test harness: a throwaway CA, an HTTPS upstream that records
what it receives, a real mitmdump with the egress addons, and a raw proxy
client that can lie about SNI and Host. Used by the integration test and the
proxy overhead benchmark. Every socket here is bound to or dials 127.0.0.1.
"""
from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, Mapping

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = [
    "LOOPBACK", "TestCA", "make_ca", "Upstream", "Recorded", "Mitmdump",
    "ProxyResponse", "proxy_request", "free_port", "stop_process",
]

LOOPBACK = "127.0.0.1"
ENTRY = Path(__file__).resolve().parent / "mitm_entry.py"


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds; reaped either way."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class TestCA:
    cert_pem: Path
    leaf_cert: Path
    leaf_key: Path


def make_ca(directory: Path, names: tuple[str, ...]) -> TestCA:
    """A CA and one leaf certificate for ``names`` plus 127.0.0.1."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "claude-bottle test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans.append(x509.IPAddress(ipaddress.ip_address(LOOPBACK)))
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out = TestCA(directory / "ca.pem", directory / "leaf.pem", directory / "leaf-key.pem")
    out.cert_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.leaf_cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    out.leaf_key.write_bytes(leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return out


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle plus
    # delayed ACKs add 40 ms to every response and swamp what we measure.
    disable_nagle_algorithm = True
    server: "_Server"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.server.record:
            self.server.received.append(Recorded(self.command, self.path, dict(self.headers.items()), body))
        payload = b'{"ok": true}\n'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    received: list[Recorded]
    record: bool


class Upstream:
    """An HTTPS server on 127.0.0.1 answering 200 to everything and recording requests."""

    def __init__(self, ca: TestCA, record: bool = True) -> None:
        self.server = _Server((LOOPBACK, 0), _Handler)
        self.server.received = []
        self.server.record = record
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ca.leaf_cert, ca.leaf_key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def received(self) -> list[Recorded]:
        return self.server.received

    def __enter__(self) -> "Upstream":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Mitmdump:
    """A real mitmdump on 127.0.0.1; with ``routes`` it runs the egress addons, without it bare."""

    workdir: Path
    upstream_ca: Path
    routes: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def routes_file(self) -> Path:
        return self.workdir / "routes.yaml"

    @property
    def decision_log(self) -> Path:
        return self.workdir / "egress.jsonl"

    @property
    def client_ca(self) -> Path:
        return self.workdir / "confdir" / "mitmproxy-ca-cert.pem"

    def __enter__(self) -> "Mitmdump":
        self.workdir.mkdir(parents=True, exist_ok=True)
        mitmdump = Path(sys.executable).with_name("mitmdump")
        cmd = [
            str(mitmdump), "--listen-host", LOOPBACK, "--listen-port", str(self.port),
            "--set", f"confdir={self.workdir / 'confdir'}",
            "--set", f"ssl_verify_upstream_trusted_ca={self.upstream_ca}",
            "--set", "termlog_verbosity=warn", "--set", "flow_detail=0",
        ]
        env = {**os.environ, **self.env}
        if self.routes is not None:
            self.routes_file.write_text(self.routes)
            cmd += ["-s", str(ENTRY)]
            env.update(
                EGRESS_ROUTES_FILE=str(self.routes_file),
                EGRESS_DECISION_LOG=str(self.decision_log),
                PYTHONPATH=os.pathsep.join(filter(None, [str(ENTRY.parents[2]), env.get("PYTHONPATH")])),
            )
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=open(self.workdir / "mitmdump.log", "wb"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mitmdump exited: {(self.workdir / 'mitmdump.log').read_text()}")
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=0.5).close()
                if self.client_ca.exists():
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"mitmdump did not listen on {LOOPBACK}:{self.port} within 30s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def log_lines(self) -> Iterator[dict]:
        if self.decision_log.exists():
            for line in self.decision_log.read_text().splitlines():
                yield json.loads(line)


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


def proxy_request(
    proxy_port: int,
    method: str,
    path: str,
    *,
    host_header: str | None,
    connect: tuple[str, int] | None = None,
    sni: str | None = None,
    absolute_url: str | None = None,
    client_ca: Path | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 10.0,
) -> ProxyResponse:
    """One request through the proxy at 127.0.0.1:``proxy_port``.

    With ``connect`` it opens a CONNECT tunnel and speaks TLS with ``sni``
    (default: the CONNECT host), so SNI, CONNECT target and Host can disagree.
    Without it, it sends a plain absolute-form request.
    """
    sock = socket.create_connection((LOOPBACK, proxy_port), timeout=timeout)
    try:
        if connect is not None:
            target = f"{connect[0]}:{connect[1]}"
            sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            resp = http.client.HTTPResponse(sock, method="CONNECT")
            resp.begin()
            if resp.status != 200:
                return ProxyResponse(resp.status, dict(resp.getheaders()), resp.read())
            ctx = ssl.create_default_context(cafile=str(client_ca) if client_ca else None)
            ctx.check_hostname = False
            sock = ctx.wrap_socket(sock, server_hostname=sni if sni is not None else connect[0])
            line_target = absolute_url or path
        else:
            line_target = absolute_url or path
        lines = [f"{method} {line_target} HTTP/1.1"]
        if host_header is not None:
            lines.append(f"Host: {host_header}")
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        lines.append(f"Content-Length: {len(body)}")
        lines.append("Connection: close")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        return ProxyResponse(resp.status, dict(resp.getheaders()), resp.read())
    finally:
        sock.close()
