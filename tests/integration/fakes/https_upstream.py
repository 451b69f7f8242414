"""A fake HTTPS upstream for tests, run inside a container we start.

Serves every host its certificate names. Answers JSON saying whether the
Authorization header carried the expected token (never echoing the header),
and appends one JSON line per request to /fake/out/requests.jsonl.
"""
import json
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EXPECTED = os.environ.get("EXPECTED_AUTHORIZATION", "")
LOG = "/fake/out/requests.jsonl"
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization", "")
        record = {"method": self.command, "path": self.path, "host": self.headers.get("Host"),
                  "auth_ok": auth == EXPECTED, "auth_present": bool(auth),
                  "placeholder_seen": "bottle-placeholder" in auth, "body_len": len(body)}
        with lock, open(LOG, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        payload = json.dumps({"auth_ok": record["auth_ok"], "host": record["host"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("/fake/in/cert.pem", "/fake/in/key.pem")
server = ThreadingHTTPServer(("0.0.0.0", 443), Handler)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
