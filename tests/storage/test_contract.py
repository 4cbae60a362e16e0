"""Runs the Store contract suite against every backend of tests/storage/backends.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.storage.backends import BACKENDS, Opener
from tests.storage.contract import StoreContract


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    async with BACKENDS[request.param](tmp_path) as opener:
        yield opener


class TestStoreContract(StoreContract):
    """Each test of StoreContract, once per backend."""
