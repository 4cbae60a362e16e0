"""The price table: matching rules, overrides, unknown models and the cost formula."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from aiproxyapi.config import ModelPrice, parse_config
from aiproxyapi.usage import PriceTable, TokenCounts, cost_of
from aiproxyapi.usage.pricing import LIST, OVERRIDE, UNKNOWN, list_prices


def test_the_shipped_table_is_dated_sourced_and_covers_every_provider() -> None:
    raw = json.loads(resources.files("aiproxyapi.usage").joinpath("prices.json").read_text())
    assert raw["as-of"] >= "2026-01-01"
    assert set(raw["sources"]) >= {"openai", "anthropic", "gemini", "mistral", "xai", "qwen"}
    table = list_prices()
    for model in (
        "gpt-5.4",
        "claude-sonnet-4-5",
        "gemini-2.5-flash",
        "mistral-large",
        "grok-4",
        "qwen3-max",
        "deepseek-chat",
        "llama-3.3-70b-versatile",
    ):
        assert table[model].output > 0, model
    assert all(p.input >= 0 and p.cached_input <= p.input for p in table.values())


@pytest.mark.parametrize(
    ("name", "matched"),
    [
        ("gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-0", "claude-opus-4"),
        ("mistral-large-latest", "mistral-large"),
        ("mistral-large-2411", "mistral-large-2411"),
        ("grok-4-0709", "grok-4"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("gpt-4o-mini-search-preview", "gpt-4o-mini"),
        ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
        ("openai/gpt-oss-120b", "openai/gpt-oss-120b"),
        ("deepseek/deepseek-chat", "deepseek-chat"),
    ],
)
def test_names_match_exactly_then_undated_then_by_family(name: str, matched: str) -> None:
    quote = PriceTable().quote(name)
    assert (quote.basis, quote.matched) == (LIST, matched)
    assert quote.price == list_prices()[matched]


def test_the_upstream_model_is_priced_before_the_client_alias() -> None:
    table = PriceTable()
    assert table.quote("gpt-4o-mini", "gpt-4o").matched == "gpt-4o-mini"
    # An upstream name the table does not know falls back to the alias.
    assert table.quote("my-private-deployment", "gpt-4o").matched == "gpt-4o"


def test_an_unknown_model_is_unknown_and_costs_nothing() -> None:
    quote = PriceTable().quote("totally-made-up", "also-unknown")
    assert (quote.price, quote.basis) == (None, UNKNOWN)
    assert cost_of(quote.price, TokenCounts(input_tokens=1000, output_tokens=1000)) == 0.0


def test_overrides_from_config_beat_the_list_and_fill_omitted_rates() -> None:
    config = parse_config(
        "pricing:\n  gpt-4o:\n    input: 1.0\n    output: 2.0\n"
        "  my-model:\n    input: 4\n    output: 8\n    cached-input: 0.5\n    reasoning: 16\n"
    ).config
    table = PriceTable(config.pricing)
    dated = table.quote("gpt-4o-2024-08-06")
    assert (dated.basis, dated.matched) == (OVERRIDE, "gpt-4o")
    assert dated.price is not None
    assert (dated.price.cached_input, dated.price.reasoning) == (1.0, 2.0)
    assert table.quote("gpt-4o-mini").basis == LIST  # a longer list name is not overridden
    mine = table.quote("my-model").price
    assert mine is not None
    tokens = TokenCounts(
        input_tokens=1000, output_tokens=500, cached_tokens=200, reasoning_tokens=100
    )
    expected = (800 * 4 + 200 * 0.5 + 400 * 8 + 100 * 16) / 1e6
    assert cost_of(mine, tokens) == pytest.approx(expected)


def test_a_negative_override_is_refused_with_its_path() -> None:
    from aiproxyapi.config import ConfigError

    with pytest.raises(ConfigError, match="pricing"):
        parse_config("pricing:\n  m:\n    input: -1\n    output: 1\n")


def test_cached_reasoning_and_cache_write_tokens_are_priced_at_their_own_rates() -> None:
    price = PriceTable().quote("claude-sonnet-4-5").price
    assert price is not None
    tokens = TokenCounts(
        input_tokens=10_000, output_tokens=2_000, cached_tokens=6_000, reasoning_tokens=500
    )
    cost = cost_of(price, tokens, cache_write=1_000)
    expected = (3_000 * 3.0 + 6_000 * 0.3 + 1_000 * 3.75 + 2_000 * 15.0) / 1e6
    assert cost == pytest.approx(expected)


def test_counts_that_exceed_their_whole_are_clamped() -> None:
    price = ModelPrice(input=1.0, output=1.0)
    from aiproxyapi.usage import Price

    tokens = TokenCounts(input_tokens=10, output_tokens=10, cached_tokens=50, reasoning_tokens=50)
    assert cost_of(Price.of(price), tokens) == pytest.approx(20 / 1e6)


def test_quotes_are_cached_per_name_pair() -> None:
    table = PriceTable()
    assert table.quote("gpt-4o-2024-08-06", "x") is table.quote("gpt-4o-2024-08-06", "x")
