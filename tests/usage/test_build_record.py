"""Records are priced where they are built: the basis, subscription accounts, no credential."""

from __future__ import annotations

import pytest

from aiproxyapi.canonical import Usage
from aiproxyapi.credential import ApiKeyCredential
from aiproxyapi.relay.types import Inbound, build_record
from aiproxyapi.routing import Candidate, Route
from aiproxyapi.usage import PriceTable, TokenCounts, cost_of
from aiproxyapi.usage.pricing import list_prices
from tests.factories import credential


class SubscriptionCredential(ApiKeyCredential, frozen=True, kw_only=True, tag="oauth"):
    """Stands in for an OAuth account: what matters to pricing is its tag."""


USAGE = Usage(input=2_000, output=1_000, cached=500, reasoning=200, cache_write=300)


def priced(cred: ApiKeyCredential, upstream: str = "claude-sonnet-4-5") -> tuple[float, str]:
    chosen = Candidate(cred, upstream)
    route = Route(requested="sonnet", model="sonnet", candidates=(chosen,))
    record = build_record(
        Inbound("POST /v1/messages", "r1", "key-x"),
        route,
        chosen,
        USAGE,
        200,
        stream=False,
        prices=PriceTable(),
    )
    assert record.cache_write_tokens == 300
    return record.cost_usd, record.pricing


def test_an_api_key_is_billed_at_list_price_with_cache_writes() -> None:
    cost, basis = priced(credential("k"))
    tokens = TokenCounts(
        input_tokens=2_000, output_tokens=1_000, cached_tokens=500, reasoning_tokens=200
    )
    assert cost == pytest.approx(cost_of(list_prices()["claude-sonnet-4-5"], tokens, 300))
    assert cost == pytest.approx((1_200 * 3 + 500 * 0.3 + 300 * 3.75 + 1_000 * 15) / 1e6)
    assert basis == "list"


def test_a_subscription_account_gets_the_list_equivalent_marked_as_such() -> None:
    base = credential("sub")
    sub = SubscriptionCredential(**{f: getattr(base, f) for f in base.__struct_fields__})
    cost, basis = priced(sub)
    assert (cost, basis) == (priced(base)[0], "subscription-equivalent")
    assert priced(sub, "no-such-model") == (0.0, "unknown")


def test_a_request_no_credential_served_is_unpriced() -> None:
    record = build_record(
        Inbound("POST /v1/messages", "r2", "key-x"),
        None,
        None,
        None,
        404,
        stream=False,
        prices=PriceTable(),
    )
    assert (record.cost_usd, record.pricing) == (0.0, "")
