"""Fixtures of the login and refresh tests: a file store in tmp_path and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from storage import FileStore


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    """The file store over tmp_path/auths."""
    return FileStore(tmp_path / "auths", tmp_path / "config.yaml")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """One HTTP client, as the CLI and the runtime pass to the flows."""
    async with httpx.AsyncClient(timeout=10) as http:
        yield http
