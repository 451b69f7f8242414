"""mitmproxy addons for the egress proxy, one concern each, in the order they must run."""
from __future__ import annotations

from pathlib import Path

from ..state import EgressState
from .credentials import Credentials
from .decisionlog import DecisionLog
from .dlp import Dlp
from .fronting import Fronting
from .gitpush import GitPush
from .hardening import Hardening
from .introspect import Introspect
from .reload import RoutesReload
from .routing import Routing
from .ssrf import SsrfGuard

__all__ = ["build_addons"]


def build_addons(routes_file: Path, decision_log: Path, state: EgressState | None = None) -> list[object]:
    """Addons in hook order: answer introspection, check, scan, then add credentials last."""
    state = state or EgressState(routes_file)
    decisions = DecisionLog(state, decision_log)
    return [
        Hardening(),
        RoutesReload(state, decisions),
        Introspect(state),
        Fronting(state),
        Routing(state),
        GitPush(state),
        SsrfGuard(state),
        Dlp(state),
        Credentials(state),
        decisions,
    ]
