"""The gateway's own accepting: a burst of connections is taken at once, whatever the loop does."""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import pytest
import uvloop

from aiproxyapi.serving import accept
from aiproxyapi.serving.accept import Acceptor, open_acceptors


class _Recorder(asyncio.Protocol):
    made: list[asyncio.BaseTransport]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.append(transport)


def _recorder_factory(made: list[asyncio.BaseTransport]) -> type[_Recorder]:
    class Recorder(_Recorder):
        pass

    Recorder.made = made
    return Recorder


def _burst() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        made: list[asyncio.BaseTransport] = []
        [acceptor] = open_acceptors(
            loop, "127.0.0.1", 0, _recorder_factory(made), tls=None, backlog=2048
        )
        port = acceptor.sockets[0].getsockname()[1]
        clients = []
        for _ in range(300):  # the kernel completes each handshake; nobody has accepted yet
            client = socket.create_connection(("127.0.0.1", port))
            clients.append(client)
        # One readiness of the listening socket takes all of them.
        acceptor._accept_waiting()
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(made) == 300
        for transport in made:
            transport.close()
        for client in clients:
            client.close()
        acceptor.close()
        await acceptor.wait_closed()

    uvloop.run(main())


def test_a_burst_of_connections_is_accepted_in_one_turn() -> None:
    _burst()


class _FullSocket:
    """A listening socket whose process is out of file descriptors."""

    def __init__(self, real: socket.socket) -> None:
        self._real = real
        self.calls = 0

    def fileno(self) -> int:
        return self._real.fileno()

    def accept(self) -> Any:
        self.calls += 1
        raise OSError(errno.EMFILE, "Too many open files")

    def listen(self, backlog: int) -> None:
        self._real.listen(backlog)

    def close(self) -> None:
        self._real.close()


def test_out_of_descriptors_pauses_instead_of_spinning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(accept, "_PAUSE_WHEN_OUT", 0.2)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        real = socket.socket()
        real.bind(("127.0.0.1", 0))
        real.setblocking(False)
        full = _FullSocket(real)
        acceptor = Acceptor(loop, full, asyncio.Protocol, tls=None, backlog=16)  # type: ignore[arg-type]
        acceptor.start()
        client = socket.create_connection(real.getsockname())
        await asyncio.sleep(0.6)
        # Tried, paused 0.2 s, tried again...: a handful of tries, not a busy loop of thousands.
        assert 2 <= full.calls <= 5
        client.close()
        acceptor.close()

    with caplog.at_level("WARNING", logger="aiproxyapi.serving"):
        uvloop.run(main())
    warnings = [r for r in caplog.records if "cannot accept connections" in r.getMessage()]
    assert len(warnings) == 1


def test_a_taken_address_is_an_error_that_names_it() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]

    async def main() -> None:
        with pytest.raises(OSError, match=r"127\.0\.0\.1"):
            open_acceptors(
                asyncio.get_running_loop(), "127.0.0.1", port, asyncio.Protocol, tls=None, backlog=8
            )

    try:
        uvloop.run(main())
    finally:
        taken.close()
