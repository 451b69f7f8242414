"""Glue between stage functions and doit actions.

A stage function raises :class:`BottleError` for user mistakes; doit should
show that as a sentence, not a traceback. Actions are referenced as
``(run, [module_function, *args])`` so they stay picklable for ``doit -n``.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from .errors import BottleError
from .reporter import UserError

__all__ = ["run", "action"]


def _accepted(fn: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keep the keyword arguments ``fn`` takes; doit offers every task option to ``run``."""
    params = inspect.signature(fn).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    kwargs = _accepted(fn, kwargs)
    try:
        result = fn(*args, **kwargs)
    except BottleError as exc:
        return UserError(str(exc))
    except KeyboardInterrupt:
        return UserError("interrupted")
    if result is None or result is True or isinstance(result, dict):
        return result
    # doit silently drops the run's record for any other return value.
    raise TypeError(f"{fn.__qualname__} returned {type(result).__name__}; actions return None, True or a dict")


def action(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple:
    """A doit python-action tuple that runs ``fn`` through :func:`run`."""
    return (run, [fn, *args], kwargs)
