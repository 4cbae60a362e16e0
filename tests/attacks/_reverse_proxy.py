"""A same-host reverse proxy: relays to the gateway, adding X-Forwarded-For as nginx does."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_DROP = {"host", "content-length", "connection", "transfer-encoding"}


class ReverseProxy:
    """Listens on 127.0.0.1 and relays every request to `target`."""

    def __init__(self, target: str) -> None:
        client = httpx.Client(base_url=target, timeout=15, trust_env=False)
        self._client = client

        class Handler(BaseHTTPRequestHandler):
            def _relay(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _DROP}
                # The proxy's own client is someone on the internet, as far as it knows.
                headers["X-Forwarded-For"] = "203.0.113.50"
                answer = client.request(self.command, self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = _relay

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()
