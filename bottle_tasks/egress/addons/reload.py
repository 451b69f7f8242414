"""Routes reload on SIGHUP (and at startup). An invalid file keeps the old table."""
from __future__ import annotations

import asyncio
import logging
import signal

from ..state import EgressState, ReloadResult
from .decisionlog import DecisionLog

__all__ = ["RoutesReload"]

log = logging.getLogger(__name__)


class RoutesReload:
    def __init__(self, state: EgressState, decisions: DecisionLog) -> None:
        self.state = state
        self.decisions = decisions

    def load(self, loader: object) -> None:
        self.reload()

    def running(self) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload)

    def reload(self) -> ReloadResult:
        result = self.state.reload()
        if result.ok:
            log.info("egress: loaded %d routes from %s", result.routes, self.state.routes_file)
        else:
            log.error("egress: routes reload rejected, keeping the previous %d routes: %s", result.routes, result.error)
        self.decisions.event("reload", ok=result.ok, routes=result.routes, error=result.error, file=str(self.state.routes_file))
        return result
