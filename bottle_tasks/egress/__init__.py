"""The egress proxy's policy core.

Pure modules (no mitmproxy): ``routes`` (model, loader, host matching),
``pathnorm``, ``decide`` (verdicts), ``dlp`` (secret scanning), ``blocks``
(403 text). ``addons`` applies them inside mitmdump; ``mitm_entry`` is the
``mitmdump -s`` script.
"""
from __future__ import annotations

from .decide import RequestFacts, Verdict, decide_request, is_git_push
from .dlp import Finding, KnownSecret, redact_text, scan_bytes, scan_text
from .routes import Auth, Route, RouteTable, RoutesError, load_routes, normalise_host
from .schemas import schema_path

__all__ = [
    "Auth", "Route", "RouteTable", "RoutesError", "load_routes", "normalise_host",
    "RequestFacts", "Verdict", "decide_request", "is_git_push",
    "Finding", "KnownSecret", "scan_text", "scan_bytes", "redact_text",
    "schema_path",
]
