"""Prices and cost: the shipped list-price table, config overrides, and what a request cost.

A model name is priced by the first of: the exact name, the name without a dated or `-latest`
suffix (`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`, `mistral-large-2411`), the longest
table entry it extends at a `-` (the family: `gpt-4o-mini-search` -> `gpt-4o-mini`); each step
is tried on the name as given, then without a `vendor/` prefix and with dotted versions dashed
(`anthropic/claude-sonnet-4.5`). The upstream model is priced before the client's alias, and a
`pricing:` override beats the list at the same step. Lookups are cached per name pair.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from importlib import resources

import msgspec

from aiproxyapi.config import ModelPrice
from aiproxyapi.usage.record import TokenCounts

__all__ = [
    "LIST",
    "OVERRIDE",
    "SUBSCRIPTION",
    "UNKNOWN",
    "Price",
    "PriceTable",
    "Quote",
    "cost_of",
    "list_prices",
]

LIST = "list"
OVERRIDE = "override"
UNKNOWN = "unknown"
SUBSCRIPTION = "subscription-equivalent"
"""A subscription (OAuth) credential: the list price of what it served, not money spent."""

_PER_TOKEN = 1_000_000.0
_DATED = re.compile(r"-(?:latest|\d{8}|\d{4}-\d{2}-\d{2}|\d{2}-\d{4}|\d{2}-\d{2}|\d{4})$")
_DOTTED = re.compile(r"(?<=\d)\.(?=\d)")
_CACHE_LIMIT = 4096


class Price(msgspec.Struct, frozen=True, kw_only=True):
    """USD per million tokens, every rate resolved."""

    input: float
    output: float
    cached_input: float
    reasoning: float
    cache_write: float

    @classmethod
    def of(cls, given: ModelPrice) -> Price:
        """A price from its config (or table) form, omitted rates filled in."""
        return cls(
            input=given.input,
            output=given.output,
            cached_input=given.input if given.cached_input is None else given.cached_input,
            reasoning=given.output if given.reasoning is None else given.reasoning,
            cache_write=given.input if given.cache_write is None else given.cache_write,
        )

    @property
    def blended(self) -> float:
        """Input plus output rate: the figure `routing.strategy: cheapest` compares."""
        return self.input + self.output


class Quote(msgspec.Struct, frozen=True):
    """How a model is priced: the price (None when unknown), its basis and the entry it matched."""

    price: Price | None
    basis: str
    matched: str = ""


_UNKNOWN_QUOTE = Quote(None, UNKNOWN)


@functools.cache
def list_prices() -> Mapping[str, Price]:
    """The shipped price table (`prices.json`), read once."""
    raw = json.loads(resources.files("aiproxyapi.usage").joinpath("prices.json").read_text())
    entries = msgspec.convert(raw["models"], dict[str, ModelPrice])
    return {name.lower(): Price.of(entry) for name, entry in entries.items()}


def _variants(name: str) -> Iterator[str]:
    """The name as given, then its vendor-less and dash-versioned spellings."""
    seen: set[str] = set()
    bare = name.rpartition("/")[2]
    for variant in (name, bare, _DOTTED.sub("-", bare)):
        if variant and variant not in seen:
            seen.add(variant)
            yield variant


class PriceTable:
    """List prices with config overrides; `quote` is cached per (upstream, requested) pair."""

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None) -> None:
        self._tables = (
            (
                OVERRIDE,
                {name.strip().lower(): Price.of(p) for name, p in (overrides or {}).items()},
            ),
            (LIST, list_prices()),
        )
        self._quotes: dict[tuple[str, str], Quote] = {}

    def quote(self, upstream: str, requested: str = "") -> Quote:
        """The price of the upstream model, else of the client's name; unknown when neither."""
        key = (upstream, requested)
        found = self._quotes.get(key)
        if found is None:
            found = self._lookup(upstream) or self._lookup(requested) or _UNKNOWN_QUOTE
            if len(self._quotes) >= _CACHE_LIMIT:
                self._quotes.clear()  # client-chosen names must not grow this without bound
            self._quotes[key] = found
        return found

    def _lookup(self, name: str) -> Quote | None:
        if not name:
            return None
        lowered = name.strip().lower()
        for step in (_exact, _undated, _family):
            for variant in _variants(lowered):
                for basis, table in self._tables:
                    matched = step(table, variant)
                    if matched is not None:
                        return Quote(table[matched], basis, matched)
        return None


def _exact(table: Mapping[str, Price], name: str) -> str | None:
    return name if name in table else None


def _undated(table: Mapping[str, Price], name: str) -> str | None:
    stripped = _DATED.sub("", name)
    while stripped != name:
        if stripped in table:
            return stripped
        name, stripped = stripped, _DATED.sub("", stripped)
    return None


def _family(table: Mapping[str, Price], name: str) -> str | None:
    cut = name.rfind("-")
    while cut > 0:
        head = name[:cut]
        if head in table:
            return head
        cut = name.rfind("-", 0, cut)
    return None


def cost_of(price: Price | None, tokens: TokenCounts, cache_write: int = 0) -> float:
    """USD for one answer; cached, cache-write and reasoning tokens are parts of input/output."""
    if price is None:
        return 0.0
    cached = min(tokens.cached_tokens, tokens.input_tokens)
    written = min(cache_write, tokens.input_tokens - cached)
    fresh = tokens.input_tokens - cached - written
    reasoning = min(tokens.reasoning_tokens, tokens.output_tokens)
    visible = tokens.output_tokens - reasoning
    return (
        fresh * price.input
        + cached * price.cached_input
        + written * price.cache_write
        + visible * price.output
        + reasoning * price.reasoning
    ) / _PER_TOKEN
