"""A token endpoint in front of FakeOAuth's that holds each call until the test releases it.

The gateway's token URL points here (``AIPROXYAPI_<PROVIDER>_TOKEN_URL``); every call waits on
``release`` and is then forwarded to the real fake, so tokens still rotate as FakeOAuth says.
``entered`` is set when the first call arrives; ``calls`` counts them.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

__all__ = ["HeldTokenEndpoint"]


class HeldTokenEndpoint:
    """A holding relay to one upstream token URL; a context manager."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.closing = False
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                relay.calls += 1
                relay.entered.set()
                relay.release.wait(60)
                if relay.closing:
                    return  # never released: the call dies here, as if the network had dropped it
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("content-type", "authorization", "accept")
                }
                answer = httpx.post(relay.target, content=body, headers=headers, timeout=10)
                try:
                    self.send_response(answer.status_code)
                    kind = answer.headers.get("content-type", "text/plain")
                    self.send_header("content-type", kind)
                    self.send_header("content-length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content)
                except OSError:
                    pass  # the gateway was killed while its call was held: nobody to answer

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where the gateway should send its token calls."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def __enter__(self) -> HeldTokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.release.is_set():
            self.closing = True  # calls still held are dropped, never forwarded
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
