"""A git smart-HTTP upstream over TLS that wants HTTP basic auth: ``git http-backend`` behind Python.

Run on the host (loopback) by the gate's unit tests, or in the sidecars image
(which has Python and git) on a test network by the integration tests:

    python git_https_upstream.py --root DIR --port N --cert C --key K --user U --token-env VAR

Every repository under ``--root`` is served read-write to a client presenting
``U`` and the token; anything else gets 401. Each request is logged to stdout
as one JSON line (method, path, whether it was authorised) - never the token.
"""
from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import ssl
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

BACKEND = "/usr/lib/git-core/git-http-backend"


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-git-https/1"
    expected: bytes = b""
    root: str = ""

    def log_message(self, fmt: str, *args) -> None:  # one JSON line per request instead
        pass

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        return hmac.compare_digest(header.encode(), self.expected)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        authorised = self._authorised()
        url = urlsplit(self.path)
        print(json.dumps({"method": self.command, "path": url.path, "authorised": authorised,
                          "had_auth": "Authorization" in self.headers}), flush=True)
        body = self._body() if self.command == "POST" else b""
        if not authorised:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="fake-git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.root, "GIT_HTTP_EXPORT_ALL": "1", "REMOTE_USER": "upstream-user",
            "REQUEST_METHOD": self.command, "PATH_INFO": url.path, "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1",
        }
        proc = subprocess.run([BACKEND], input=body, env=env, capture_output=True)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name.strip(), value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _handle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--token-env", required=True, help="environment variable holding the token")
    args = parser.parse_args()
    token = os.environ[args.token_env]
    Handler.expected = b"Basic " + base64.b64encode(f"{args.user}:{token}".encode())
    Handler.root = args.root
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(json.dumps({"listening": args.port}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
