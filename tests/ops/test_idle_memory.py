"""Memory goes back to the system once a burst is over, never while requests come or run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from aiproxyapi.serving import memory
from aiproxyapi.serving.memory import IdleTrim


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _trim(quiet: float = 1.0) -> tuple[IdleTrim, _Clock, list[float]]:
    clock = _Clock()
    released: list[float] = []
    trim = IdleTrim(quiet, release=lambda: released.append(clock.now), clock=clock)
    return trim, clock, released


def _idle() -> bool:
    return False


def test_a_gateway_that_served_nothing_never_releases() -> None:
    trim, clock, released = _trim()
    for _ in range(10):
        clock.now += 0.5
        assert not trim.tick(0, _idle)
    assert released == []


def test_memory_is_released_once_after_a_quiet_second() -> None:
    trim, clock, released = _trim()
    assert not trim.tick(250, _idle)  # a burst was served
    clock.now += 0.5
    assert not trim.tick(250, _idle)  # quiet for half a second only
    clock.now += 0.6
    assert trim.tick(250, _idle)
    for _ in range(6):  # no new request: nothing more to give back
        clock.now += 0.5
        assert not trim.tick(250, _idle)
    assert released == [101.1]


def test_steady_traffic_never_releases() -> None:
    trim, clock, released = _trim()
    for served in range(0, 2000, 10):
        clock.now += 0.5
        assert not trim.tick(served, _idle)
    assert released == []


def test_a_long_stream_holds_the_release_until_it_ends() -> None:
    trim, clock, released = _trim()
    trim.tick(5, _idle)
    for _ in range(20):  # one stream runs for ten seconds, no new request
        clock.now += 0.5
        assert not trim.tick(5, lambda: True)
    clock.now += 0.5
    assert not trim.tick(5, _idle)  # it just ended: the quiet second starts now
    clock.now += 1.0
    assert trim.tick(5, _idle)
    assert released == [111.5]


def test_each_burst_gets_its_release() -> None:
    trim, clock, released = _trim()
    trim.tick(100, _idle)
    clock.now += 1.5
    trim.tick(100, _idle)
    trim.tick(300, _idle)
    clock.now += 1.5
    trim.tick(300, _idle)
    assert len(released) == 2


@pytest.mark.skipif(memory._malloc_trim is None, reason="malloc_trim is glibc's")
def test_release_gives_freed_heap_pages_back() -> None:
    # Many mid-sized blocks with a small survivor after each: the heap cannot shrink from its
    # top, so only a trim returns the freed pages.
    script = textwrap.dedent(
        """
        from aiproxyapi.serving.memory import release_memory

        def rss_kib():
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])

        blocks, keep = [], []
        for _ in range(3000):
            blocks.append(bytearray(60_000))
            keep.append(bytearray(600))
        peak = rss_kib()
        del blocks
        freed = rss_kib()
        release_memory()
        print(peak, freed, rss_kib())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    peak, freed, released = (int(part) for part in out.stdout.split())
    assert peak - freed < 40_000, "the blocks were returned without a trim: no test"
    assert released < freed - 100_000
