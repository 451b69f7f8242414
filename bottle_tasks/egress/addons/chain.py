"""The egress addons behind one mitmproxy addon, run in order, failing closed.

mitmproxy pays a fixed price per registered addon for every event it
dispatches (a generator, a coroutine and an error-catching context, for each
of the dozen events in a request's life), whatever the addon does with it.
Registered one by one, the ten concern classes made that bookkeeping a large
share of the proxy's overhead; behind one object they keep their separate
classes and cost one dispatch.

It also changes what an error means. mitmproxy logs an exception in one addon
and carries on with the next, so a check that crashed would let the request
through; here a crashing check blocks the flow it was looking at.
"""
from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Sequence

from mitmproxy import hooks, http

from ..decide import Verdict
from .common import WS_BLOCKED, block

__all__ = ["EgressChain"]

log = logging.getLogger(__name__)


def _fail_closed(name: str, args: tuple[Any, ...], exc: BaseException) -> None:
    log.exception("egress: %s failed; refusing the flow", name)
    subject = args[0] if args else None
    if isinstance(subject, http.HTTPFlow) and subject.websocket is not None and name.startswith("websocket"):
        # The upgrade's response went long ago, and mitmproxy cannot kill a websocket in
        # transit: drop this message and, through the flag, every later one.
        subject.metadata[WS_BLOCKED] = f"the egress policy failed on a websocket message ({type(exc).__name__})"
        if subject.websocket.messages:
            subject.websocket.messages[-1].drop()
    elif isinstance(subject, http.HTTPFlow):
        block(subject, Verdict.block("error", f"the egress policy failed on this request ({type(exc).__name__})"))
    elif subject is not None and hasattr(subject, "server"):
        subject.server.error = f"claude-bottle egress: policy error ({type(exc).__name__})"
    elif subject is not None and hasattr(subject, "kill"):
        subject.kill()


class EgressChain:
    def __init__(self, concerns: Sequence[object]) -> None:
        self.concerns = tuple(concerns)
        names = {h.name for h in hooks.all_hooks.values()}
        for name in sorted(names):
            funcs = [getattr(c, name) for c in self.concerns if callable(getattr(c, name, None))]
            if funcs:
                setattr(self, name, self._dispatcher(name, funcs))

    @staticmethod
    def _dispatcher(name: str, funcs: list[Callable[..., Any]]) -> Callable[..., Any]:
        if not any(inspect.iscoroutinefunction(f) for f in funcs):
            def run(*args: Any) -> None:
                for func in funcs:
                    try:
                        func(*args)
                    except Exception as exc:
                        _fail_closed(name, args, exc)
                        return
            return run

        async def run_async(*args: Any) -> None:
            for func in funcs:
                try:
                    result = func(*args)
                    if inspect.isawaitable(result):
                        await result
                except Exception as exc:
                    _fail_closed(name, args, exc)
                    return
        return run_async
