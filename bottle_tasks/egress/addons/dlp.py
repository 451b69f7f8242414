"""DLP on what the client sends: URL, headers, body and websocket messages.

Bottle tokens and placeholders bound for a host they do not belong to are
always blocked. detect-secrets findings follow the route's policy
(block | redact | log). Bodies above the scan cap are refused under block and
redact; under log they stream through a chunk scanner.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable

from mitmproxy import ctx, http

from ..decide import CLIENT_CREDENTIAL_HEADERS, Verdict
from ..dlp import Finding, KnownSecret, StreamScanner, find_secrets, redact_text, scan_text
from ..routes import Route, normalise_host
from ..state import EgressState
from .common import DLP, WS_BLOCKED, block, facts_for, route_of, settled

__all__ = ["Dlp", "DEFAULT_MAX_BYTES"]

log = logging.getLogger(__name__)
DEFAULT_MAX_BYTES = 8 * 1024 * 1024


def _exempt_headers(route: Route | None) -> set[str]:
    # Headers the credentials addon strips never reach the upstream, so
    # placeholders in them are expected rather than leaks.
    names = {"proxy-authorization"}
    if route is not None and route.auth is not None:
        names.update(h.lower() for h in CLIENT_CREDENTIAL_HEADERS)
        names.add(route.auth.header_name.lower())
    return names


class Dlp:
    def __init__(self, state: EgressState, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.state = state
        self.max_bytes = max_bytes

    def _record(self, flow: http.HTTPFlow, where: str, findings: Iterable[Finding]) -> None:
        entries = flow.metadata.setdefault(DLP, [])
        for f in findings:
            entries.append({"where": where, "kind": f.kind, "line": f.line_no, "fingerprint": f.fingerprint})

    def _exfil(self, flow: http.HTTPFlow, where: str, findings: list[Finding]) -> bool:
        host = normalise_host(flow.request.host)
        stolen = [f for f in findings if f.owners and host not in f.owners]
        if not stolen:
            return False
        f = stolen[0]
        self._record(flow, where, stolen)
        block(
            flow,
            Verdict.block(
                "exfil",
                f"the request {where} carries the {f.kind} for {f.name or 'a bottle credential'}, "
                f"which belongs to {', '.join(sorted(f.owners))}, not {flow.request.host}",
                route_of(flow),
            ),
        )
        return True

    def _apply(self, flow: http.HTTPFlow, where: str, findings: list[Finding], redact: Callable[[], None]) -> None:
        """Policy for detector findings (bottle secrets to their own host pass)."""
        detected = [f for f in findings if not f.owners]
        if not detected:
            return
        self._record(flow, where, detected)
        route = route_of(flow)
        policy = route.dlp if route else "block"
        if policy == "block":
            kinds = ", ".join(sorted({f.kind for f in detected}))
            block(flow, Verdict.block("dlp", f"the request {where} contains a secret ({kinds})", route))
        elif policy == "redact":
            redact()
        else:
            log.info("egress dlp: %s on %s %s (%s)", flow.request.host, where, detected[0].kind, policy)

    def _refused_as_too_large(self, flow: http.HTTPFlow, size: int | str) -> bool:
        """A body past the scan limit cannot be vouched for: refused unless the route only logs."""
        route = route_of(flow)
        policy = route.dlp if route else "block"
        if policy == "log":
            return False
        block(flow, Verdict.block(
            "dlp",
            f"the request body ({size} bytes) is larger than the {self.max_bytes}-byte DLP scan limit, and "
            f"{flow.request.host} uses dlp: {policy}",
            route,
        ))
        return True

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if settled(flow):
            return
        secrets = self.state.secrets
        route = route_of(flow)
        req = flow.request

        # URL and headers in one scan: line 1 is the URL, each later line one header.
        exempt = _exempt_headers(route)
        fields = [(name, value) for name, value in req.headers.items(multi=True) if name.lower() not in exempt]
        text = "\n".join([req.path.replace("\n", " "), *(f"{n}: {v}".replace("\n", " ") for n, v in fields)])
        findings = scan_text(text, secrets)
        if findings:
            where = "URL" if all(f.line_no == 1 for f in findings) else (
                "headers" if all(f.line_no > 1 for f in findings) else "URL and headers"
            )
            if self._exfil(flow, where, findings):
                return

            def redact_url_and_headers() -> None:
                req.path = redact_text(req.path, [])[0]
                for name, _ in fields:
                    req.headers.set_all(name, [redact_text(v, [])[0] for v in req.headers.get_all(name)])

            self._apply(flow, where, findings, redact_url_and_headers)
            if settled(flow):
                return

        size = _declared_length(req)
        if size is not None and size > self.max_bytes or req.stream:
            if self._refused_as_too_large(flow, size if size is not None else "streamed"):
                return
            req.stream = self._stream_scanner(flow, secrets)

    def _stream_scanner(self, flow: http.HTTPFlow, secrets: tuple[KnownSecret, ...]) -> Callable[[bytes], bytes]:
        scanner = StreamScanner(secrets)
        host = normalise_host(flow.request.host)

        def scan(chunk: bytes) -> bytes:
            if chunk:
                findings = scanner.feed(chunk)
                self._record(flow, "body", findings)
                if any(f.owners and host not in f.owners for f in findings):
                    # Headers are already upstream; cutting the stream is the only refusal left.
                    log.warning("egress dlp: bottle credential in streamed body to %s; killing the flow", host)
                    flow.kill()
                    return b""
            return chunk

        return scan

    def request(self, flow: http.HTTPFlow) -> None:
        if settled(flow) or flow.request.stream:
            return
        req = flow.request
        body = req.get_content(strict=False)
        if body is None:
            body = req.raw_content
        if not body:
            return
        if len(body) > self.max_bytes:
            if self._refused_as_too_large(flow, len(body)):
                return
            body = body[: self.max_bytes]
        text = body.decode("latin-1")
        findings = scan_text(text, self.state.secrets)
        if self._exfil(flow, "body", findings):
            return

        def redact_body() -> None:
            req.content = _redacted(text).encode("latin-1")

        self._apply(flow, "body", findings, redact_body)

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        """What the client sends over an upgraded connection gets the same scan as a body.

        mitmproxy cannot close a websocket from this hook, so a refusal drops the
        message, tells the client why, and relays nothing more on the connection.
        """
        assert flow.websocket is not None
        message = flow.websocket.messages[-1]
        if message.injected:
            return
        if flow.metadata.get(WS_BLOCKED):
            message.drop()
            return
        if not message.from_client or not message.content:
            return
        route = route_of(flow)
        policy = route.dlp if route else "block"
        if len(message.content) > self.max_bytes and policy != "log":
            _refuse_ws(flow, f"a websocket message to {flow.request.host} ({len(message.content)} bytes) is larger "
                             f"than the {self.max_bytes}-byte DLP scan limit, and the host uses dlp: {policy}")
            return
        text = message.content[: self.max_bytes].decode("latin-1")
        findings = scan_text(text, self.state.secrets)
        if not findings:
            return
        host = normalise_host(flow.request.host)
        stolen = [f for f in findings if f.owners and host not in f.owners]
        detected = [f for f in findings if not f.owners]
        if stolen or (detected and policy == "block"):
            f = (stolen or detected)[0]
            self._record(flow, "websocket message", stolen or detected)
            _refuse_ws(flow, f"a websocket message to {flow.request.host} carried the {f.kind}"
                             + (f" for {f.name}" if f.owners and f.name else ""))
        elif detected and policy == "redact":
            message.content = _redacted(text).encode("latin-1")
        elif detected:
            log.info("egress dlp: %s in a websocket message to %s (log)", detected[0].kind, flow.request.host)


def _redacted(text: str) -> str:
    """``text`` with every detector finding (not the bottle's own secrets) replaced by [REDACTED]."""
    for value in sorted({m.value for m in find_secrets(text) if not m.owners}, key=len, reverse=True):
        text = text.replace(value, "[REDACTED]")
    return text


def _refuse_ws(flow: http.HTTPFlow, reason: str) -> None:
    """Drop the websocket message, relay nothing more on the connection, tell the client why."""
    assert flow.websocket is not None
    log.warning("egress dlp: %s; nothing more is relayed on this connection", reason)
    flow.websocket.messages[-1].drop()
    flow.metadata[WS_BLOCKED] = reason
    text = (f"Blocked by the claude-bottle egress proxy: {reason} (dlp). The message was not sent and "
            "nothing more is relayed on this connection.")
    try:
        ctx.master.commands.call("inject.websocket", flow, True, text.encode(), True)
    except Exception:  # noqa: BLE001 - no proxy server to inject through (tests): the drop stands alone
        log.debug("egress dlp: cannot tell the websocket client why", exc_info=True)


def _declared_length(req: http.Request) -> int | None:
    value = req.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
