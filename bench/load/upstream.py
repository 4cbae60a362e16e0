"""A small OpenAI-shaped upstream for the load scenarios (own process, asyncio, HTTP/1.1).

Routes (POST, any path ending in /chat/completions; the first path segment picks the mode):
  /fast/v1/...   a chat.completion JSON at once
  /stream/v1/... SSE: CHUNKS chunks, DELAY_MS apart, then data: [DONE]; the text depends on the
                 request's `user` field, so every stream's bytes are known to the client
  /big/v1/...    SSE of about 1 MiB written as fast as the socket takes it
Run: python upstream.py PORT CHUNKS DELAY_MS   (prints "ready PORT" when listening)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys

MODEL = "load-model"


def stream_events(seed: str, chunks: int) -> list[bytes]:
    """The SSE events the stream for `seed` carries, [DONE] included."""
    base = {
        "id": f"chatcmpl-{seed}",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
    }
    events = []
    for i in range(chunks):
        word = hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()[: 4 + i % 12]
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": " " + word}
        body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        events.append(b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n")
    end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    events.append(b"data: " + json.dumps(end, separators=(",", ":")).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


COMPLETION = json.dumps(
    {
        "id": "chatcmpl-fast",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "a short answer from the fast route"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    },
    separators=(",", ":"),
).encode()

BIG_EVENT = (
    b'data: {"id":"chatcmpl-big","object":"chat.completion.chunk","created":1,"model":"'
    + MODEL.encode()
    + b'","choices":[{"index":0,"delta":{"content":"'
    + b"x" * 900
    + b'"},"finish_reason":null}]}\n\n'
)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    chunks, delay = int(sys.argv[2]), int(sys.argv[3]) / 1000.0
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = json.loads(await reader.readexactly(length)) if length else {}
            mode = path.strip("/").split("/")[0]
            if mode == "fast" or not body.get("stream"):
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(COMPLETION)}\r\n\r\n".encode()
                    + COMPLETION
                )
                await writer.drain()
                continue
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
            )
            if mode == "big":
                events = [BIG_EVENT] * 1150  # about 1 MiB
                pause = 0.0
            else:
                events = stream_events(str(body.get("user", "")), chunks)
                pause = delay
            for event in events:
                writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                await writer.drain()
                if pause:
                    await asyncio.sleep(pause)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, IndexError, ValueError):
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    print(f"ready {sys.argv[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
