"""The egress addons run behind one mitmproxy addon, and a crashing check blocks its flow."""
from __future__ import annotations

import asyncio

from mitmproxy.test import taddons, tflow

from bottle_tasks.egress.addons.chain import EgressChain
from bottle_tasks.egress.addons.common import REASON_HEADER


class Record:
    def __init__(self, log, name):
        self.log, self.name = log, name

    def requestheaders(self, flow):
        self.log.append(self.name)


class AsyncRecord(Record):
    async def requestheaders(self, flow):
        await asyncio.sleep(0)
        self.log.append(self.name)


class Crash:
    def requestheaders(self, flow):
        raise RuntimeError("bug in a check")


def test_concerns_run_in_order_sync_and_async():
    log = []
    chain = EgressChain([Record(log, "a"), AsyncRecord(log, "b"), Record(log, "c")])
    with taddons.context(chain):
        asyncio.run(chain.requestheaders(tflow.tflow()))
    assert log == ["a", "b", "c"]


def test_a_crashing_check_blocks_the_flow_and_stops_the_chain():
    log = []
    chain = EgressChain([Record(log, "before"), Crash(), Record(log, "after")])
    flow = tflow.tflow()
    with taddons.context(chain):
        chain.requestheaders(flow)
    assert log == ["before"]
    assert flow.response is not None and flow.response.status_code == 403
    assert "error" in flow.response.headers[REASON_HEADER]


class CrashOnMessage:
    def websocket_message(self, flow):
        raise RuntimeError("bug in a message check")


def test_a_crashing_websocket_check_drops_the_message_and_blocks_the_connection():
    chain = EgressChain([CrashOnMessage()])
    flow = tflow.twebsocketflow()
    with taddons.context(chain):
        chain.websocket_message(flow)
    assert flow.websocket.messages[-1].dropped
    assert "RuntimeError" in flow.metadata["bottle.ws_blocked"]
