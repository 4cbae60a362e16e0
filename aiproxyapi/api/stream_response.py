"""The streamed answer's ASGI response: chunks sent as they come, one task watching the client.

Litestar's own streaming response runs the sender and a disconnect listener in an anyio task
group, which costs a cancel scope, two tasks and their bookkeeping per stream. Here the chunks are
sent from the request's own task, and a single watcher task cancels that task when the client
leaves, so the stream (and with it the upstream call) stops at once, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any, cast

from litestar import Request
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import HTTPResponseBodyEvent, Receive, Send, TypeEncodersMap

__all__ = ["RelayStream"]

_LAST: HTTPResponseBodyEvent = {"type": "http.response.body", "body": b"", "more_body": False}


class RelayStream(Stream):
    """A `Stream` of bytes whose ASGI side needs no task group."""

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        """The ASGI response that sends this stream."""
        merged = {**headers, **self.headers} if headers is not None else self.headers
        iterator = self.iterator
        assert isinstance(iterator, AsyncIterator)
        return _RelayStreamResponse(
            background=self.background or background,
            content_length=0,
            cookies=[*self.cookies, *(cookies or ())],
            encoded_headers=encoded_headers,
            encoding=self.encoding,
            headers=merged,
            is_head_response=is_head_response,
            iterator=iterator,
            media_type=str(self.media_type or media_type or MediaType.TEXT),
            status_code=self.status_code or status_code,
        )


class _Watch:
    __slots__ = ("finished", "gone")

    def __init__(self) -> None:
        self.finished = False
        self.gone = False


async def _watch_disconnect(receive: Receive, sender: asyncio.Task[Any], watch: _Watch) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    if not watch.finished:
        watch.gone = True
        sender.cancel()


class _RelayStreamResponse(ASGIStreamingResponse):
    async def send_body(self, send: Send, receive: Receive) -> None:
        sender = asyncio.current_task()
        assert sender is not None
        watch = _Watch()
        watcher = asyncio.get_running_loop().create_task(_watch_disconnect(receive, sender, watch))
        iterator = cast(AsyncIterator[bytes], self.iterator)
        try:
            async for chunk in iterator:
                body: HTTPResponseBodyEvent = {
                    "type": "http.response.body",
                    "body": chunk,
                    "more_body": True,
                }
                await send(body)
            watch.finished = True
            await send(_LAST)
        except asyncio.CancelledError:
            # The client left: the stream is over, not the server's work.
            if watch.gone and sender.uncancel() == 0:
                return
            raise
        finally:
            watch.finished = True
            watcher.cancel()
