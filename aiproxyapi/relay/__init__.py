"""The relay: one client request through routing, the pool and an executor, and back.

Knows nothing of the web framework: the API layer hands it a `ClientCall` and gets back either
a complete answer or an async iterator of stream bytes, in the client's dialect. Usage is
recorded once per request, when the answer has been delivered or has failed.
"""

from __future__ import annotations

import asyncio

from aiproxyapi.errors import GatewayError
from aiproxyapi.relay.complete import complete
from aiproxyapi.relay.plan import Plan
from aiproxyapi.relay.stream import open_stream
from aiproxyapi.relay.types import (
    CLIENT_CLOSED,
    ClientCall,
    Completed,
    Inbound,
    Streaming,
    UsageSink,
    build_record,
)
from aiproxyapi.runtime import Runtime

__all__ = ["ClientCall", "Completed", "Inbound", "Streaming", "UsageSink", "relay"]


async def relay(
    runtime: Runtime, inbound: Inbound, call: ClientCall, sink: UsageSink
) -> Completed | Streaming:
    """Serve one client call from the pool, in the client's dialect."""
    route = None
    try:
        route = runtime.registry.resolve(call.model)
        plan = Plan(call, route)
        if call.stream:
            return await open_stream(runtime, inbound, plan, sink)
        return await complete(runtime, inbound, plan, sink)
    except GatewayError as error:
        sink(build_record(inbound, route, None, None, error.status, stream=call.stream))
        raise
    except asyncio.CancelledError:
        sink(build_record(inbound, route, None, None, CLIENT_CLOSED, stream=call.stream))
        raise
