"""Serving: the uvicorn server around the ASGI app, from the first byte of a connection to exit.

Its place in the flow: before and after the routes. It owns what HTTP/1.1 connections may do
(header read deadline, stalled readers cut off, TLS) and the process lifecycle (graceful drain
on SIGTERM, stop from an embedding program). It imports neither the routes nor the relay.
"""

from aiproxyapi.serving.protocol import ConnectionLimits, guarded_protocol
from aiproxyapi.serving.run import (
    GatewayServer,
    TlsFilesError,
    build_server,
    check_tls_files,
)

__all__ = [
    "ConnectionLimits",
    "GatewayServer",
    "TlsFilesError",
    "build_server",
    "check_tls_files",
    "guarded_protocol",
]
