"""JSONL decision log: one line per request, with no token values."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import IO, Any

from mitmproxy import http, tcp

from ..decide import Verdict
from ..state import EgressState
from .common import DLP, INJECTED, VERDICT, WS_BLOCKED, route_of

__all__ = ["DecisionLog"]

log = logging.getLogger(__name__)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


class DecisionLog:
    def __init__(self, state: EgressState, path: Path) -> None:
        self.state = state
        self.path = path
        self._fh: IO[str] | None = None

    def _out(self) -> IO[str] | None:
        if self._fh is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "a", encoding="utf-8", buffering=1)
            except OSError as exc:
                log.error("egress: cannot open decision log %s: %s", self.path, exc)
                return None
        return self._fh

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), sort_keys=False)
        # Reasons and paths echo client input; scrub any bottle secret value
        # that made it in, whatever field it landed in.
        for value in self.state.secret_values():
            if value in line:
                line = line.replace(value, "[REDACTED]")
        out = self._out()
        if out is not None:
            out.write(line + "\n")

    def event(self, name: str, **fields: Any) -> None:
        self.write({"time": _iso(time.time()), "event": name, **fields})

    def _flow_record(self, flow: http.HTTPFlow) -> dict[str, Any]:
        verdict = flow.metadata.get(VERDICT)
        route = route_of(flow) or (verdict.route if isinstance(verdict, Verdict) else None)
        req, resp = flow.request, flow.response
        bytes_out = len(req.raw_content) if req.raw_content is not None else int(req.headers.get("content-length", 0) or 0)
        bytes_in = 0
        if resp is not None:
            bytes_in = len(resp.raw_content) if resp.raw_content is not None else int(resp.headers.get("content-length", 0) or 0)
        allowed = isinstance(verdict, Verdict) and verdict.allowed and flow.error is None
        record: dict[str, Any] = {
            "time": _iso(req.timestamp_start),
            "method": req.method,
            "host": req.host,
            "path": req.path.partition("?")[0],
            "route": route.host if route else None,
            "decision": "allow" if allowed else "block",
            "rule": verdict.rule if isinstance(verdict, Verdict) else None,
            "reason": verdict.reason if isinstance(verdict, Verdict) else (flow.error.msg if flow.error else "no route decision"),
            "status": resp.status_code if resp is not None else None,
            "bytes_out": bytes_out,
            "bytes_in": bytes_in,
            "bytes": bytes_out + bytes_in,
        }
        if flow.metadata.get(INJECTED):
            record["credential"] = flow.metadata[INJECTED]
        if flow.metadata.get(DLP):
            record["dlp"] = flow.metadata[DLP]
        return record

    def _log_flow(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get("bottle.logged"):
            return
        flow.metadata["bottle.logged"] = True
        self.write(self._flow_record(flow))

    def response(self, flow: http.HTTPFlow) -> None:
        self._log_flow(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._log_flow(flow)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            self._log_flow(flow)

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        """The refusal of a websocket message, once per connection (later ones are dropped unseen)."""
        reason = flow.metadata.get(WS_BLOCKED)
        if not reason or flow.metadata.get("bottle.ws_logged") or flow.websocket is None:
            return
        flow.metadata["bottle.ws_logged"] = True
        route = route_of(flow)
        size = len(flow.websocket.messages[-1].content) if flow.websocket.messages else 0
        record: dict[str, Any] = {
            "time": _iso(time.time()), "method": "WEBSOCKET", "host": flow.request.host,
            "path": flow.request.path.partition("?")[0], "route": route.host if route else None,
            "decision": "block", "rule": "dlp", "reason": reason,
            "status": None, "bytes_out": size, "bytes_in": 0, "bytes": size,
        }
        if flow.metadata.get(DLP):
            record["dlp"] = flow.metadata[DLP]
        self.write(record)

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        address = flow.server_conn.address
        self.write({
            "time": _iso(time.time()), "method": "CONNECT", "host": address[0] if address else None,
            "path": None, "route": None, "decision": "block", "rule": "fronting",
            "reason": "CONNECT tunnels must carry TLS", "bytes_out": 0, "bytes_in": 0, "bytes": 0,
        })

    def done(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
