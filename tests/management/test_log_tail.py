"""The log tail's `after` cursor: millisecond precision, so a poll never skips a line."""

from __future__ import annotations

from pathlib import Path

from aiproxyapi.management.log_routes import _tail

LINES = (
    "2026-12-01T10:00:00.100Z INFO    aiproxyapi.gateway first\n"
    "2026-12-01T10:00:00.900Z INFO    aiproxyapi.gateway second, same second\n"
    "  a continuation line without a time\n"
    "2026-12-01T10:00:01.250Z WARNING aiproxyapi.pool third\n"
)


def test_a_poll_after_the_latest_stamp_sees_lines_of_the_same_second(tmp_path: Path) -> None:
    log = tmp_path / "main.log"
    log.write_text(LINES.split("\n", 1)[0] + "\n")
    first = _tail(log, 0, 100)
    assert first["lines"] == [LINES.split("\n", 1)[0]]
    log.write_text(LINES)
    later = _tail(log, first["latest-timestamp"], 100)
    assert later["lines"] == LINES.splitlines()[1:]
    assert later["latest-timestamp"] == 1796119201.25
    assert _tail(log, later["latest-timestamp"], 100)["lines"] == []
