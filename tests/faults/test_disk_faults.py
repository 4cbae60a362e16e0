"""F19: the file backend's disk fills up (a real ENOSPC from a tiny tmpfs under auth-dir).

Writes fail with a clear error; the previous file stays whole and readable; no temp file is
left; proxied traffic keeps flowing; once space is back, writes work again.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess
from tests.support.oauth_records import record

pytestmark = pytest.mark.e2e

MANAGEMENT = "mgmt-secret-for-disk-faults"
NAME = "claude-a.json"


@contextlib.contextmanager
def tiny_tmpfs(path: Path, size: str = "256k") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of the filesystem; returns the filler file."""
    filler = directory / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 4096):
                pass
    finally:
        os.close(fd)
    return filler


def management(gateway: GatewayProcess, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(
        method,
        f"{gateway.base_url}/v0/management{path}",
        headers={"authorization": f"Bearer {MANAGEMENT}"},
        timeout=10,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.invariant(7, 13)
def test_a_full_disk_fails_writes_cleanly_and_keeps_the_old_files(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = gateway_config(openai_entry("up", fake_upstream.base_url, ["sk-a"]))
    gateway = GatewayProcess(config, tmp_path=tmp_path, env={"MANAGEMENT_PASSWORD": MANAGEMENT})
    with tiny_tmpfs(gateway.auth_dir) as auth_dir:
        original = json.dumps(record("claude", "tok-1", label="before"), indent=2).encode()
        (auth_dir / NAME).write_bytes(original)
        (auth_dir / NAME).chmod(0o600)
        with gateway.start():
            chat = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
            url = f"{gateway.base_url}/v1/chat/completions"
            headers = {"authorization": f"Bearer {CLIENT_KEY}"}
            assert httpx.post(url, json=chat, headers=headers, timeout=10).status_code == 200
            filler = fill(auth_dir)
            edit = management(
                gateway, "PATCH", "/auth-files/fields", json={"name": NAME, "label": "after"}
            )
            assert edit.status_code == 503, edit.text
            assert "Traceback" not in edit.text
            upload = management(
                gateway,
                "POST",
                "/auth-files?name=claude-b.json",
                content=json.dumps(record("claude", "tok-2", pad="x" * 8192)).encode(),
            )
            assert upload.status_code == 503, upload.text
            # The old record is whole, nothing half-written sits beside it.
            assert (auth_dir / NAME).read_bytes() == original
            files = sorted(p.name for p in auth_dir.iterdir() if p.is_file())
            assert files == [NAME, "filler.bin"]
            assert [p for p in auth_dir.rglob(".*") if p.is_file()] == []
            # Traffic does not care.
            for _ in range(5):
                assert httpx.post(url, json=chat, headers=headers, timeout=10).status_code == 200
            filler.unlink()
            again = management(
                gateway, "PATCH", "/auth-files/fields", json={"name": NAME, "label": "after"}
            )
            assert again.status_code == 200, again.text
            assert json.loads((auth_dir / NAME).read_bytes())["label"] == "after"
            assert (auth_dir / NAME).stat().st_mode & 0o777 == 0o600
