"""Admission over a real store: refusals as client errors, spend persisted and loaded back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aiproxyapi.config.client_keys import ClientKeyPolicy
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.policy import Admission, MemoryLedger
from aiproxyapi.policy.admission import SPEND_DOCUMENT
from aiproxyapi.usage import UsageRecord
from storage import FileStore

POLICY = ClientKeyPolicy(key="k", daily_budget=1.0, rpm=100)


def record(request_id: str, cost: float) -> UsageRecord:
    return UsageRecord(
        timestamp=time.time(),
        request_id=request_id,
        endpoint="POST /v1/chat/completions",
        client="key-1",
        credential="c",
        provider="openai",
        requested_model="m1",
        upstream_model="m1",
        latency_ms=1.0,
        status=200,
        failed=False,
        cost_usd=cost,
    )


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "auths", tmp_path / "config.yaml")


async def test_spend_is_persisted_and_loaded_after_a_restart(store: FileStore) -> None:
    admission = Admission(MemoryLedger(), store)
    await admission.admit(POLICY, "key-1", "r1", "m1")
    admission.settle(record("r1", 1.5))
    await admission.flush()
    assert await store.read_state(SPEND_DOCUMENT)

    restarted = Admission(MemoryLedger(), store)
    await restarted.load()
    with pytest.raises(ClientRequestError) as refused:
        await restarted.admit(POLICY, "key-1", "r2", "m1")
    error = refused.value
    assert (error.status, error.code) == (429, "insufficient_quota")
    assert error.headers["x-should-retry"] == "false"
    assert int(error.headers["Retry-After"]) >= 1
    assert "daily budget of $1.00 is spent" in error.message


async def test_nothing_is_written_without_spend(store: FileStore) -> None:
    admission = Admission(MemoryLedger(), store)
    await admission.admit(POLICY, "key-1", "r1", "m1")
    admission.settle(record("r1", 0.0))
    await admission.flush()
    assert await store.read_state(SPEND_DOCUMENT) is None


async def test_keys_without_limits_skip_the_ledger(store: FileStore) -> None:
    admission = Admission(MemoryLedger(), store)
    for index in range(5):
        await admission.admit(ClientKeyPolicy(key="plain"), "key-2", f"r{index}", "m1")
        await admission.admit(None, "anonymous", f"a{index}", "m1")


async def test_rate_refusal_names_the_limit(store: FileStore) -> None:
    admission = Admission(MemoryLedger(), store)
    policy = ClientKeyPolicy(key="k", rpm=1)
    await admission.admit(policy, "key-1", "r1", "m1")
    with pytest.raises(ClientRequestError) as refused:
        await admission.admit(policy, "key-1", "r2", "m1")
    assert refused.value.code == "rate_limit_exceeded"
    assert "1 requests per minute" in refused.value.message
