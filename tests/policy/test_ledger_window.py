"""The in-memory tokens-per-minute window stays small under a high request rate."""

from __future__ import annotations

from aiproxyapi.policy.ledger import KeyLimits, MemoryLedger, _Key

NOW = 1_800_000_000.25


async def test_thousands_of_answers_a_second_keep_one_entry_per_second() -> None:
    ledger = MemoryLedger()
    for index in range(12_000):  # 4,000 answers a second for three seconds
        now = NOW + index / 4000
        await ledger.settle("k", f"r{index}", "m", 0.0, 10, served=True, now=now)
    state: _Key = ledger._keys["k"]
    assert len(state.tokens) == 3
    assert sum(tokens for _when, tokens in state.tokens) == 120_000


async def test_the_merged_tokens_still_count_against_the_limit() -> None:
    ledger = MemoryLedger()
    limits = KeyLimits(tpm=1000)
    for index in range(100):
        await ledger.settle("k", f"r{index}", "m", 0.0, 10, served=True, now=NOW + index / 200)
    refused = await ledger.admit("k", "next", "m", limits, NOW + 5)
    assert refused is not None
    assert refused.reason == "tpm"
    assert refused.retry_after == 55.0  # the first answer of the merged entry leaves at NOW + 60
    assert await ledger.admit("k", "later", "m", limits, NOW + 60.01) is None
