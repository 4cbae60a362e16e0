"""Packaging: the wheel ships every file under web/, and a non-editable install runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import free_port

ROOT = Path(__file__).resolve().parents[2]
# Assets of any kind and depth, so the check holds whatever the panel ships.
PLACEHOLDERS = ("web/placeholder-asset.css", "web/assets/nested/placeholder.js")


def _source_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [name for name in listed if (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(copy of the source tree with placeholder assets, the wheel built from it)."""
    base = tmp_path_factory.mktemp("pkg")
    tree = base / "src"
    for name in _source_files():
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    for name in PLACEHOLDERS:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(f"/* {name} */\n")
    dist = base / "dist"
    subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(dist), str(tree)],
        capture_output=True,
        check=True,
        timeout=300,
        env={**os.environ, "UV_OFFLINE": "1"},
    )
    (wheel,) = dist.glob("*.whl")
    return tree, wheel


def test_the_wheel_ships_every_file_under_web(built: tuple[Path, Path]) -> None:
    tree, wheel = built
    expected = {
        p.relative_to(tree).as_posix()
        for p in (tree / "web").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert set(PLACEHOLDERS) <= expected
    names = set(zipfile.ZipFile(wheel).namelist())
    assert expected <= names, sorted(expected - names)
    assert "aiproxyapi/check_config.py" in names


@pytest.fixture(scope="module")
def installed(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed (not editable); its bin dir."""
    _tree, wheel = built
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run(["uv", "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    requirements = venv.parent / "requirements.txt"
    subprocess.run(
        [
            "uv",
            "export",
            "--frozen",
            "--no-dev",
            "--no-emit-project",
            "-q",
            "-o",
            str(requirements),
        ],
        cwd=ROOT,
        check=True,
    )
    result = subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            "-r",
            str(requirements),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0 and "network" in result.stderr.lower():
        pytest.skip(f"the package index is unreachable: {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stderr
    return venv / "bin"


def test_installed_command_reports_its_version(installed: Path) -> None:
    result = subprocess.run(
        [installed / "aiproxyapi", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "aiproxyapi 0.1.0"


def test_installed_package_holds_the_panel_assets(installed: Path) -> None:
    located = subprocess.run(
        [
            installed / "python",
            "-c",
            "import web, pathlib; print(pathlib.Path(web.__file__).parent)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout.strip()
    web_dir = Path(located)
    assert str(ROOT) not in located, "the import must come from the installed copy"
    for name in PLACEHOLDERS:
        assert (web_dir.parent / name).is_file(), name


def test_installed_command_checks_a_config_and_serves(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f"host: 127.0.0.1\nport: {port}\nauth-dir: {tmp_path / 'auths'}\n")
    checked = subprocess.run(
        [installed / "aiproxyapi", "check-config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok: ")
    process = subprocess.Popen(
        [installed / "aiproxyapi", "--config", str(config)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert status == 200
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()
