"""SDK clients made by tests are closed at the end of each test, not whenever GC gets to them.

An unclosed SDK client leaves pooled sockets behind; their ResourceWarning would fire at some
random later point and fail whichever test happens to be running (warnings are errors here).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

__all__ = ["close_tracked", "tracked"]


class _Closable(Protocol):
    def close(self) -> Any: ...


C = TypeVar("C", bound=_Closable)

_open: list[_Closable] = []


def tracked(client: C) -> C:
    """Register an SDK client to be closed when the current test ends."""
    _open.append(client)
    return client


def close_tracked() -> None:
    """Close every client registered since the last call."""
    while _open:
        _open.pop().close()
