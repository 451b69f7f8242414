"""The supervise MCP server: ``python -m bottle_tasks.supervise.server --config supervise.json``.

    agent (Claude Code) ──MCP streamable HTTP──> http://supervise:9100/mcp
        egress-block / capability-block ──> queue/<id>.proposal.json
                                            ... waits for queue/<id>.decision.json (doit approve/deny)
        list-egress-routes ──GET http://_egress.local/routes via the egress proxy──> live table

Built on the official ``mcp`` SDK's low-level server so the tool input
schemas are exactly ours and every argument goes through our validation
(an unknown or credential-bearing argument is refused, not ignored). A tool
call blocks until the operator decides or ``timeout_seconds`` pass; the
proposal then stays pending, and a retry with the same arguments waits on it
(or, if the operator has decided meanwhile, gets that decision at once).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ..errors import BottleError
from ..sidecar import SUPERVISE_CONF
from .config import SuperviseConfig, load_config, resolve_bind_address
from .proposals import (CAPABILITY_TOOL, EGRESS_TOOL, LIST_TOOL, TOOLS, ProposalError, capability_proposal,
                        egress_proposal, pending_reply, reply, request_key, utc_now)
from .queue import Queue, QueueError

__all__ = ["build_server", "build_app", "serve", "main", "MCP_PATH", "POLL_SECONDS"]

log = logging.getLogger("supervise")

MCP_PATH = "/mcp"
POLL_SECONDS = 0.25


def _text(text: str, *, is_error: bool = False, **structured: Any) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=is_error,
                                structured_content=structured or None)


def _fetch_routes(config: SuperviseConfig) -> dict[str, Any]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": config.egress_proxy}))
    with opener.open(config.egress_introspect_url, timeout=10) as resp:
        return json.loads(resp.read())


def _agent_view(table: dict[str, Any]) -> dict[str, Any]:
    """The live table as the agent may see it: hosts, paths, methods, and whether credentials are injected."""
    routes = []
    for route in table.get("routes", []):
        view = {"host": route["host"],
                "path_prefixes": route.get("path_allowlist") or "any",
                "methods": route.get("methods") or "any",
                "credentials_injected_by_proxy": "auth" in route}
        routes.append(view)
    return {"routes": routes}


async def _wait_for_decision(queue: Queue, proposal_id: str, timeout: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while True:
        decision = await anyio.to_thread.run_sync(queue.decision, proposal_id)
        if decision is not None or time.monotonic() >= deadline:
            return decision
        await anyio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


class Supervise:
    """The tool handlers, bound to one bottle's config and queue."""

    def __init__(self, config: SuperviseConfig) -> None:
        self.config = config
        self.queue = Queue(config.queue_dir)
        # request key -> id of a proposal whose call timed out before the operator answered
        self.unanswered: dict[str, str] = {}

    async def list_tools(self, ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=name, description=spec["description"], input_schema=spec["input_schema"])
            for name, spec in TOOLS.items()
        ])

    async def call_tool(self, ctx: ServerRequestContext, params: types.CallToolRequestParams
                        ) -> types.CallToolResult:
        args = params.arguments or {}
        try:
            if params.name == LIST_TOOL:
                return await self._list_routes(args)
            if params.name == EGRESS_TOOL:
                return await self._propose(egress_proposal, args)
            if params.name == CAPABILITY_TOOL:
                return await self._propose(capability_proposal, args)
        except ProposalError as exc:
            log.info("rejected %s call: %s", params.name, exc)
            return _text(str(exc), is_error=True, outcome="invalid")
        except QueueError as exc:
            log.error("queue problem: %s", exc)
            return _text(f"The supervise queue is not usable, nothing was proposed: {exc}. Tell the user.",
                         is_error=True, outcome="error")
        return _text(f"Unknown tool {params.name!r}; the tools are: {', '.join(TOOLS)}.", is_error=True,
                     outcome="invalid")

    async def _list_routes(self, args: dict[str, Any]) -> types.CallToolResult:
        if args:
            raise ProposalError(f"{LIST_TOOL} takes no arguments; call it with {{}}")
        try:
            table = await anyio.to_thread.run_sync(_fetch_routes, self.config)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            return _text(f"Could not read the live route table from the egress proxy: {exc}. Tell the user.",
                         is_error=True, outcome="error")
        view = _agent_view(table)
        return _text(json.dumps(view, indent=2), **view)

    async def _propose(self, build, args: dict[str, Any]) -> types.CallToolResult:
        proposal = build(args, self.config.slug, self.queue.new_id(), utc_now())
        key = request_key(proposal)
        existing = next((p for p in self.queue.pending(errors=[]) if request_key(p) == key), None)
        if existing is None and key in self.unanswered:
            # Decided after our last call on it timed out: this retry gets that decision.
            existing = self.queue.proposal(self.unanswered[key])
        if existing is not None:
            proposal = existing
            log.info("%s: waiting on pending proposal %s again", proposal["tool"], proposal["id"])
        else:
            await anyio.to_thread.run_sync(self.queue.write_proposal, proposal)
            log.info("%s: queued proposal %s", proposal["tool"], proposal["id"])
        started = time.monotonic()
        decision = await _wait_for_decision(self.queue, proposal["id"], self.config.timeout_seconds)
        if decision is None:
            self.unanswered[key] = proposal["id"]
            return _text(pending_reply(proposal, time.monotonic() - started, existing is not None),
                         outcome="pending", id=proposal["id"])
        self.unanswered.pop(key, None)
        log.info("%s: proposal %s %s", proposal["tool"], proposal["id"], decision["outcome"])
        extra = {k: decision[k] for k in ("note", "reason", "error", "route", "capabilities") if k in decision}
        return _text(reply(proposal, decision), is_error=decision["outcome"] == "apply_failed",
                     outcome=decision["outcome"], id=proposal["id"], **extra)


def build_server(config: SuperviseConfig) -> Server:
    handlers = Supervise(config)
    return Server("claude-bottle-supervise", version="1",
                  instructions=("Ask the bottle's operator for egress routes or software the task needs; "
                                "calls wait for the operator's decision."),
                  on_list_tools=handlers.list_tools, on_call_tool=handlers.call_tool)


async def _health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok\n")


def build_app(config: SuperviseConfig, bind: str):
    """The ASGI app; Host headers are checked against the names the agent may use (DNS rebinding guard)."""
    names = sorted({config.listen_host, bind, "127.0.0.1", "localhost"})
    hosts = [f"[{n}]:*" if ":" in n else f"{n}:*" for n in names] + names
    security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                         allowed_origins=[f"http://{h}" for h in hosts])
    return build_server(config).streamable_http_app(
        streamable_http_path=MCP_PATH, transport_security=security, host=bind,
        custom_starlette_routes=[Route("/healthz", _health, methods=["GET"])],
    )


def serve(config: SuperviseConfig) -> None:
    import uvicorn

    bind = resolve_bind_address(config.listen_host)
    config.queue_dir.mkdir(parents=True, exist_ok=True)
    log.info("supervise for %s on http://%s:%d%s, queue %s, timeout %ds", config.slug, bind, config.port,
             MCP_PATH, config.queue_dir, config.timeout_seconds)
    uvicorn.run(build_app(config, bind), host=bind, port=config.port, log_level="warning",
                timeout_graceful_shutdown=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bottle_tasks.supervise.server",
                                     description="claude-bottle supervise MCP server")
    parser.add_argument("--config", type=Path, default=Path(SUPERVISE_CONF), help="supervise.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s supervise %(levelname)s %(message)s")
    try:
        serve(load_config(args.config))
    except BottleError as exc:
        print(f"supervise: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
