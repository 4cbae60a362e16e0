"""F20: SIGKILL at random moments while auth records, config, state and usage are written.

After every kill each file parses and equals, byte for byte, either the last version whose
write had returned or the one being written then; a restart sweeps the temp files the kill left;
secret files stay 0600 and their directories 0700 (reliability.md §3.2 F20).
"""

from __future__ import annotations

import functools
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from aiproxyapi.usage.persist import FILE_VERSION
from storage.file import STATE_DIR
from tests.faults import _writer
from tests.faults.profile import runs

ROOT = Path(__file__).resolve().parents[2]


def start_writer(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults._writer", str(root)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def acknowledged(output: bytes) -> dict[tuple[str, str], int]:
    """The newest generation each file's write had returned for, from the writer's lines."""
    done: dict[tuple[str, str], int] = {}
    for line in output.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] != "ready":  # a torn last line has fewer parts
            done[(parts[0], parts[1])] = int(parts[2])
    return done


def temps(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.is_file() and p.name != ".keep"]


def check_version(
    name: str, data: bytes, found: int, render: Callable[[int], bytes], acked: int, latest: int
) -> None:
    """`data` is whole version `found`: the acknowledged one, or the one in flight at the kill."""
    assert data == render(found), f"{name}: not a whole version (claims generation {found})"
    # Writes to one file are sequential: anything newer than the acknowledged version is the
    # single write in flight when the kill came.
    assert acked <= found <= latest, f"{name}: generation {found}, acknowledged {acked}"


@pytest.mark.invariant(5, 7)
@pytest.mark.timeout(runs(120, 1800))
def test_kill_during_writes_leaves_every_file_old_or_new(tmp_path: Path) -> None:
    rng = random.Random(20)
    total = runs(15, 500)
    acked: dict[tuple[str, str], int] = {}
    leftovers = 0
    for attempt in range(total):
        writer = start_writer(tmp_path)
        assert writer.stdout is not None
        assert writer.stdin is not None
        ready = writer.stdout.readline()
        assert ready.startswith(b"ready"), writer.stderr.read() if writer.stderr else b""
        # The start-up sweep left no temp file of the previous kill behind.
        assert temps(tmp_path / "auths") == [], attempt
        assert list(tmp_path.glob(".config.yaml*")) == []
        writer.stdin.write(b"go\n")
        writer.stdin.flush()
        time.sleep(rng.uniform(0.0, 0.25))
        writer.send_signal(signal.SIGKILL)
        out, _err = writer.communicate(timeout=10)
        assert writer.returncode == -signal.SIGKILL
        acked.update(acknowledged(out))
        leftovers += len(temps(tmp_path / "auths")) + len(list(tmp_path.glob(".config.yaml*")))
        latest = int((tmp_path / "generation").read_text())
        for name in _writer.AUTH_NAMES:
            path = tmp_path / "auths" / name
            if ("auth", name) not in acked and not path.exists():
                continue  # killed before its first write ever returned
            data = path.read_bytes()
            found = int(json.loads(data)["generation"])
            render = functools.partial(_writer.auth_version, name)
            check_version(name, data, found, render, acked.get(("auth", name), 0), latest)
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        config = tmp_path / "config.yaml"
        if config.exists():
            data = config.read_bytes()
            found = int(data.split(b"\n", 1)[0].rsplit(b" ", 1)[1])
            done = acked.get(("config", "config.yaml"), 0)
            check_version("config", data, found, _writer.config_version, done, latest)
        state = tmp_path / "auths" / STATE_DIR / _writer.STATE_KEY
        if state.exists():
            data = state.read_bytes()
            found = int(json.loads(data)["generation"])
            done = acked.get(("state", _writer.STATE_KEY), 0)
            check_version("state", data, found, _writer.state_version, done, latest)
        usage = tmp_path / "usage.json"
        if usage.exists():
            decoded = msgspec.json.decode(usage.read_bytes())
            assert decoded["version"] == FILE_VERSION
            assert stat.S_IMODE(usage.stat().st_mode) == 0o600
        for directory in (tmp_path / "auths", tmp_path / "auths" / STATE_DIR):
            if directory.exists():
                assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    # The loop did write: kills landed across many generations, not all before the first write.
    assert int((tmp_path / "generation").read_text()) > total
    assert os.listdir(tmp_path / "auths")
    print(f"{total} kills, {leftovers} temp files left behind and swept at the next start")
