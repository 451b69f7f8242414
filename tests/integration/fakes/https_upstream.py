"""A fake HTTPS upstream for tests, run inside a container we start.

Serves every host its certificate names. ``POST /v1/messages`` with a
``messages`` list answers like the Claude Messages API (streamed when asked) with the text ``BOTTLE-OK``, or
401 when the Authorization header is not the expected token. Everything else
gets JSON saying whether the token was right (never echoing the header). One
JSON line per request goes to /fake/out/requests.jsonl, with the user turns'
texts of a Messages request (so a test can see a conversation continue). A
websocket upgrade is accepted; each text message is logged and answered ``ack:<bytes>``.
"""
import base64
import hashlib
import json
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EXPECTED = os.environ.get("EXPECTED_AUTHORIZATION", "")
LOG = "/fake/out/requests.jsonl"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B65"
lock = threading.Lock()


def _user_texts(messages):
    """The text of every user turn, whether its content is a string or a list of blocks."""
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            yield from (b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")


def _ws_frames(rfile):
    """Yield (opcode, payload) of each client frame (masked, unfragmented) until close."""
    while True:
        head = rfile.read(2)
        if len(head) < 2:
            return
        opcode, length = head[0] & 0x0F, head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(rfile.read(2), "big")
        elif length == 127:
            length = int.from_bytes(rfile.read(8), "big")
        mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(rfile.read(length)))
        if opcode == 8:
            return
        yield opcode, data


def _ws_frame(text):
    payload = text.encode()
    return bytes([0x81, len(payload)]) + payload  # short unmasked text frame (server to client)


class Handler(BaseHTTPRequestHandler):
    def _websocket(self):
        """Accept the upgrade, log each message the client sends, answer ``ack:<bytes>``."""
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        self.wfile.flush()
        for opcode, data in _ws_frames(self.rfile):
            if opcode != 1:
                continue
            with lock, open(LOG, "a") as fh:
                fh.write(json.dumps({"host": self.headers.get("Host"), "ws_message": data.decode(errors="replace")[:300]})
                         + "\n")
            self.wfile.write(_ws_frame(f"ack:{len(data)}"))
            self.wfile.flush()
        self.close_connection = True

    def _answer(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self._websocket()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization", "")
        record = {"method": self.command, "path": self.path, "host": self.headers.get("Host"),
                  "auth_ok": auth == EXPECTED, "auth_present": bool(auth),
                  "placeholder_seen": "bottle-placeholder" in auth, "body_len": len(body)}
        request = json.loads(body) if body.startswith(b"{") else {}
        if isinstance(request.get("messages"), list):
            record["user_texts"] = [text[:300] for text in _user_texts(request["messages"])]
        with lock, open(LOG, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.command == "POST" and self.path.split("?")[0] == "/v1/messages" and "messages" in request:
            return self._messages(request, record["auth_ok"])
        self._send(200, "application/json", json.dumps({"auth_ok": record["auth_ok"], "host": record["host"]}))

    def _send(self, status, ctype, text):
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _messages(self, request, auth_ok):
        if not auth_ok:
            return self._send(401, "application/json", json.dumps(
                {"type": "error", "error": {"type": "authentication_error", "message": "invalid token"}}))
        model = request.get("model", "claude-test")
        usage = {"input_tokens": 10, "output_tokens": 3}
        message = {"id": "msg_bottle", "type": "message", "role": "assistant", "model": model,
                   "content": [{"type": "text", "text": "BOTTLE-OK"}], "stop_reason": "end_turn",
                   "stop_sequence": None, "usage": usage}
        if not request.get("stream"):
            return self._send(200, "application/json", json.dumps(message))
        events = [
            ("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "BOTTLE-OK"}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": 3}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        self._send(200, "text/event-stream",
                   "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events))

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("/fake/in/cert.pem", "/fake/in/key.pem")
server = ThreadingHTTPServer(("0.0.0.0", 443), Handler)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
