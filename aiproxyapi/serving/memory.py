"""Hand memory back to the system once a burst of traffic is over.

A burst leaves its freed memory inside the process: cyclic garbage the collector has not reached
yet (raised young-generation threshold, see `run._tune_collector`) and free blocks in the C
allocator's heaps, which glibc returns only from the top of each heap. `IdleTrim` watches the
request count on the server's tick; when requests were served since the last trim and none
arrived or ran for `quiet` seconds (long enough for the upstream pools to close a burst's surplus
connections), it runs a full collection and `malloc_trim(0)`, which releases free pages anywhere
in the heaps. Under steady traffic it never runs; an idle gateway runs it once per burst.

What it cannot release: CPython's small-object arenas (1 MiB each) go back to the system only
when every object in them is gone, so a few objects that outlive a burst keep its arenas.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

__all__ = ["IdleTrim", "release_memory"]

log = logging.getLogger("aiproxyapi.server")


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
    return trim


_malloc_trim = _load_trim()


def release_memory() -> None:
    """Collect cyclic garbage, then give the C heaps' free pages back to the system."""
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)


class IdleTrim:
    """Decides, tick by tick, when a burst is over and memory can be released."""

    __slots__ = ("_clock", "_quiet", "_release", "_seen", "_since", "_trimmed")

    def __init__(
        self,
        quiet: float = 1.5,
        *,
        release: Callable[[], None] = release_memory,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._quiet = quiet
        self._release = release
        self._clock = clock
        self._seen = 0  # the request count at the last tick
        self._trimmed = 0  # the request count at the last release
        self._since = clock()  # when the count or the busy state last changed

    def tick(self, served: int, busy: Callable[[], bool]) -> bool:
        """Note the server's request count (and, after a burst, whether one still runs).

        True when it released memory. `busy` is asked only between a burst and its release.
        """
        now = self._clock()
        if served != self._seen:
            self._seen = served
            self._since = now
            return False
        if served == self._trimmed:
            return False
        if busy():
            self._since = now
            return False
        if now - self._since < self._quiet:
            return False
        self._trimmed = served
        started = time.perf_counter()
        self._release()
        log.debug("idle: memory released in %.1f ms", (time.perf_counter() - started) * 1000)
        return True
