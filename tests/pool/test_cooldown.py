"""Cooldown policy: every upstream outcome gets the blame and rest the pool acts on."""

from __future__ import annotations

import email.utils

import pytest

from aiproxyapi.errors import Blame
from aiproxyapi.pool import judge, parse_retry_after
from aiproxyapi.pool.cooldown import AUTH_COOLDOWN, MAX_QUOTA_BACKOFF, NOT_FOUND_COOLDOWN

TRANSIENT = 60.0
NOW = 1_700_000_000.0  # a wall-clock instant for HTTP-date Retry-After values


def verdict(
    status: int | None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    level: int = 0,
) -> tuple[Blame, float, bool, bool]:
    """(blame, cooldown, moves on, escalates) of one outcome."""
    v = judge(status, headers or {}, body, backoff_level=level, transient=TRANSIENT, now=NOW)
    return v.blame, v.cooldown, v.moves_on, v.escalate


def test_no_http_answer_is_the_transports_fault_and_rests_transiently() -> None:
    assert verdict(None) == (Blame.TRANSPORT, TRANSIENT, True, False)
    assert judge(None, {}, b"", backoff_level=0, transient=5.0).cooldown == 5.0


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504, 529])
def test_timeouts_and_server_errors_blame_the_upstream(status: int) -> None:
    assert verdict(status) == (Blame.UPSTREAM, TRANSIENT, True, False)
    assert (
        judge(status, {}, b"", backoff_level=0, transient=TRANSIENT).reason == f"upstream_{status}"
    )


def test_429_with_retry_after_seconds_rests_that_long() -> None:
    assert verdict(429, {"retry-after": "7"}) == (Blame.QUOTA, 7.0, True, True)
    # The header wins over the backoff level.
    assert verdict(429, {"retry-after": "7"}, level=9)[1] == 7.0


def test_429_with_an_http_date_rests_until_that_date() -> None:
    date = email.utils.formatdate(NOW + 120, usegmt=True)
    blame, cooldown, _, _ = verdict(429, {"retry-after": date})
    assert blame is Blame.QUOTA
    assert cooldown == pytest.approx(120.0)


def test_429_with_retry_after_ms_prefers_it_over_retry_after() -> None:
    assert verdict(429, {"retry-after-ms": "1500", "retry-after": "30"})[:2] == (Blame.QUOTA, 1.5)


@pytest.mark.parametrize(
    ("level", "expected"),
    [(0, 1.0), (1, 2.0), (3, 8.0), (10, 1024.0), (11, MAX_QUOTA_BACKOFF), (60, MAX_QUOTA_BACKOFF)],
)
def test_429_without_retry_after_backs_off_exponentially_up_to_30_minutes(
    level: int, expected: float
) -> None:
    assert verdict(429, level=level) == (Blame.QUOTA, expected, True, True)
    assert MAX_QUOTA_BACKOFF == 30 * 60


def test_backoff_level_of_a_long_dead_key_never_overflows() -> None:
    # Thousands of 429s in a row on one key must still give the cap, not an OverflowError.
    assert verdict(429, level=5000)[1] == MAX_QUOTA_BACKOFF


@pytest.mark.parametrize("value", ["soon", "", "   ", "inf", "nan", "1e999"])
def test_unusable_retry_after_falls_back_to_backoff(value: str) -> None:
    assert verdict(429, {"retry-after": value}, level=2)[1] == 4.0


@pytest.mark.parametrize("status", [401, 402, 403])
def test_auth_and_payment_refusals_blame_the_credential_for_30_minutes(status: int) -> None:
    assert verdict(status) == (Blame.CREDENTIAL, AUTH_COOLDOWN, True, False)
    assert AUTH_COOLDOWN == 30 * 60


def test_404_rests_the_pair_for_12_hours() -> None:
    assert verdict(404) == (Blame.CREDENTIAL, NOT_FOUND_COOLDOWN, True, False)
    assert NOT_FOUND_COOLDOWN == 12 * 3600


@pytest.mark.parametrize(
    "body",
    [
        b'{"error":{"message":"The model not supported for this key"}}',
        b'{"error":{"message":"This Model Is Not Supported"}}',
    ],
)
def test_400_saying_model_not_supported_blames_the_credential(body: bytes) -> None:
    assert verdict(400, body=body) == (Blame.CREDENTIAL, NOT_FOUND_COOLDOWN, True, False)


def test_400_about_the_credit_balance_blames_the_account() -> None:
    body = b'{"type":"error","error":{"message":"Your credit balance is too low"}}'
    assert verdict(400, body=body) == (Blame.CREDENTIAL, AUTH_COOLDOWN, True, False)
    assert verdict(422, body=body)[0] is Blame.CREDENTIAL


@pytest.mark.parametrize("status", [400, 413, 422])
@pytest.mark.invariant(12)
def test_plain_client_errors_blame_the_client_and_cool_nothing(status: int) -> None:
    body = b'{"error":{"message":"messages: field required"}}'
    assert verdict(status, body=body) == (Blame.CLIENT, 0.0, False, False)


def test_phrases_count_only_for_400_and_422() -> None:
    assert verdict(413, body=b"credit balance")[0] is Blame.CLIENT


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": " 12 "}) == 12.0
    assert parse_retry_after({"retry-after": "-5"}) == 0.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    # A broken retry-after-ms does not hide a usable Retry-After.
    assert parse_retry_after({"retry-after-ms": "x", "retry-after": "3"}) == 3.0
    past = email.utils.formatdate(NOW - 50, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=NOW) == 0.0
    assert parse_retry_after({"retry-after": "inf"}) is None
    assert parse_retry_after({"retry-after-ms": "nan"}) is None
