"""storage.atomic: all-or-nothing writes with exact modes, and the sweep of crash leftovers."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.atomic import remove_stale_temps, write_atomic, write_atomic_async

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """A umask that would strip group/other bits, to prove the mode is set exactly."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def test_writes_bytes_with_mode_0600(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_atomic(target, b'{"x": 1}')
    assert target.read_bytes() == b'{"x": 1}'
    assert _mode(target) == 0o600
    assert _names(tmp_path) == ["a.json"]


def test_overwrites_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_atomic(target, b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert _names(tmp_path) == ["a.json"]


@pytest.mark.invariant(7)
def test_mode_is_exact_despite_umask(tmp_path: Path, strict_umask: None) -> None:
    target = tmp_path / "public.txt"
    write_atomic(target, b"x", mode=0o644)
    assert _mode(target) == 0o644


def test_creates_missing_parents_as_0700(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c.json"
    write_atomic(target, b"x")
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700
    assert _mode(target) == 0o600


def test_leaves_existing_directory_mode_alone(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    write_atomic(directory / "f", b"x")
    assert _mode(directory) == 0o755


@pytest.mark.invariant(7)
def test_temp_file_has_final_mode_before_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real_write = os.write

    def spy_write(fd: int, data: bytes | memoryview) -> int:
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", spy_write)
    write_atomic(tmp_path / "secret.json", b"token")
    assert seen
    assert set(seen) == {0o600}


def test_partial_os_write_is_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def short_write(fd: int, data: bytes | memoryview) -> int:
        return real_write(fd, bytes(data)[:7])  # the kernel may accept fewer bytes than asked

    monkeypatch.setattr(os, "write", short_write)
    payload = bytes(range(256)) * 10
    write_atomic(tmp_path / "big.bin", payload)
    assert (tmp_path / "big.bin").read_bytes() == payload


@pytest.mark.invariant(7)
def test_failed_replace_keeps_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.json"
    write_atomic(target, b"old")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("simulated crash during rename")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated crash"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["a.json"]


@pytest.mark.invariant(7)
def test_failed_fsync_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk gone"):
        write_atomic(tmp_path / "a.json", b"new")
    assert _names(tmp_path) == []


async def test_async_variant_writes(tmp_path: Path) -> None:
    target = tmp_path / "d" / "a.json"
    await write_atomic_async(target, b"async", mode=0o640)
    assert target.read_bytes() == b"async"
    assert _mode(target) == 0o640


def test_remove_stale_temps_sweeps_only_leftovers(tmp_path: Path) -> None:
    stale = [".a.json.tmp-0123456789ab", ".b.json.tmp-abcdefabcdef"]
    keep = ["a.json", ".a.json.tmp-notrandom", "a.json.tmp-0123456789ab", ".hidden"]
    for name in stale + keep:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / ".dir.tmp-0123456789ab").mkdir()

    removed = remove_stale_temps(tmp_path)

    assert sorted(p.name for p in removed) == sorted(stale)
    assert _names(tmp_path) == sorted([*keep, ".dir.tmp-0123456789ab"])


def test_remove_stale_temps_can_target_one_file(tmp_path: Path) -> None:
    for name in [".a.json.tmp-0123456789ab", ".b.json.tmp-0123456789ab"]:
        (tmp_path / name).write_bytes(b"x")
    removed = remove_stale_temps(tmp_path, name="a.json")
    assert [p.name for p in removed] == [".a.json.tmp-0123456789ab"]
    assert _names(tmp_path) == [".b.json.tmp-0123456789ab"]


def test_remove_stale_temps_recognises_real_temp_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Crash right before the rename, then sweep: the leftover must match the sweep's pattern.
    def broken_replace(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", broken_replace)
    monkeypatch.setattr(Path, "unlink", lambda self, missing_ok=False: None)  # "crash" cleanup
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "a.json", b"x")
    monkeypatch.undo()
    assert len(_names(tmp_path)) == 1
    assert len(remove_stale_temps(tmp_path, name="a.json")) == 1
    assert _names(tmp_path) == []


def test_remove_stale_temps_on_missing_directory(tmp_path: Path) -> None:
    assert remove_stale_temps(tmp_path / "nope") == []
