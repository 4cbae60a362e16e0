"""Token refresh of every record type against the fake authorization server."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from auth.errors import RefreshError
from auth.providers.copilot import exchange_copilot_token
from auth.providers.vertex import mint_access_token
from auth.refresh import expires_at, refresh_lead_seconds, refresh_record
from tests.support.fake_oauth import FakeOAuth

ROTATING = ["claude", "codex", "qwen", "iflow"]


def _secrets(record: dict[str, Any]) -> list[str]:
    found = [str(record.get(k)) for k in ("access_token", "refresh_token") if record.get(k)]
    token = record.get("token")
    if isinstance(token, dict):
        found += [str(token[k]) for k in ("access_token", "refresh_token") if token.get(k)]
    return found


@pytest.mark.parametrize("record_type", ROTATING)
async def test_refresh_rotates_and_the_old_token_stops_working(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, record_type: str
) -> None:
    record = fake_oauth.make_record(record_type, expired="2020-01-01T00:00:00Z")
    renewed = await refresh_record(record, client=client)
    assert renewed is not record
    assert record["expired"] == "2020-01-01T00:00:00Z"
    assert renewed["access_token"] != record["access_token"]
    assert renewed["refresh_token"] != record["refresh_token"]
    new_expiry = expires_at(renewed)
    assert new_expiry is not None
    assert new_expiry > time.time() + 3000
    assert renewed["last_refresh"].endswith("Z")
    with pytest.raises(RefreshError) as caught:  # the rotated-out token is dead now
        await refresh_record(record, client=client)
    assert caught.value.permanent


async def test_gemini_refresh_keeps_the_refresh_token(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient
) -> None:
    record = fake_oauth.make_record("gemini", expired="2020-01-01T00:00:00Z")
    renewed = await refresh_record(record, client=client)
    assert renewed["token"]["refresh_token"] == record["token"]["refresh_token"]
    assert renewed["token"]["access_token"] != record["token"]["access_token"]
    assert renewed["project_id"] == "proj-a"
    assert (expires_at(renewed) or 0) > time.time() + 3000
    again = await refresh_record(renewed, client=client)  # Google tokens are reusable
    assert again["token"]["access_token"] != renewed["token"]["access_token"]


async def test_iflow_refresh_fetches_the_api_key_again(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient
) -> None:
    record = fake_oauth.make_record("iflow")
    fake_oauth.account.iflow_api_key = "iflow-key-2"
    renewed = await refresh_record(record, client=client)
    assert renewed["api_key"] == "iflow-key-2"


@pytest.mark.parametrize("record_type", [*ROTATING, "gemini"])
async def test_a_revoked_refresh_token_is_permanent_and_secret_free(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, record_type: str
) -> None:
    record = fake_oauth.make_record(record_type)
    refresh_token = record.get("refresh_token") or record["token"]["refresh_token"]
    fake_oauth.revoke(refresh_token)
    with pytest.raises(RefreshError) as caught:
        await refresh_record(record, client=client)
    assert caught.value.permanent
    assert "invalid_grant" in caught.value.reason
    for secret in _secrets(record):
        assert secret not in str(caught.value)


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_trouble_is_transient(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, status: int
) -> None:
    record = fake_oauth.make_record("claude")
    fake_oauth.fail_token(status)
    with pytest.raises(RefreshError) as caught:
        await refresh_record(record, client=client)
    assert not caught.value.permanent
    renewed = await refresh_record(record, client=client)  # the token survived the outage
    assert renewed["access_token"] != record["access_token"]


async def test_an_unreachable_token_endpoint_is_transient(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = fake_oauth.make_record("codex")
    monkeypatch.setenv("AIPROXYAPI_CODEX_TOKEN_URL", "http://127.0.0.1:9/token")
    with pytest.raises(RefreshError) as caught:
        await refresh_record(record, client=client)
    assert not caught.value.permanent
    assert "could not be reached" in caught.value.reason
    for secret in _secrets(record):
        assert secret not in caught.value.reason


async def test_records_without_a_refresh_token_are_permanent(client: httpx.AsyncClient) -> None:
    with pytest.raises(RefreshError, match="no refresh token") as caught:
        await refresh_record({"type": "claude", "access_token": "x"}, client=client)
    assert caught.value.permanent
    with pytest.raises(RefreshError, match="cannot be refreshed"):
        await refresh_record({"type": "martian"}, client=client)


async def test_vertex_refresh_mints_a_token_from_the_service_account(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient
) -> None:
    record = fake_oauth.make_record("vertex")
    renewed = await refresh_record(record, client=client)
    assert renewed["access_token"].startswith("ya29.sa")
    assert fake_oauth.access_tokens[renewed["access_token"]]["provider"] == "vertex"
    assert (expires_at(renewed) or 0) > time.time() + 3000
    assert renewed["service_account"] == record["service_account"]


async def test_vertex_minting_with_a_key_the_server_does_not_know_fails(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient
) -> None:
    service_account = fake_oauth.add_service_account()
    stranger = FakeOAuth().add_service_account()  # same shape, another key pair
    service_account["private_key"] = stranger["private_key"]
    with pytest.raises(RefreshError) as caught:
        await refresh_record({"type": "vertex", "service_account": service_account}, client=client)
    assert caught.value.permanent
    token, _ = await mint_access_token(fake_oauth.add_service_account(), client=client)
    assert token.startswith("ya29.sa")


async def test_copilot_records_do_not_expire_and_the_api_token_is_exchanged(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient
) -> None:
    record = fake_oauth.make_record("copilot")
    assert expires_at(record) is None
    assert await refresh_record(record, client=client) == record
    copilot = await exchange_copilot_token(record["access_token"], client=client)
    assert copilot.token.startswith("tid=copilot")
    assert copilot.api_url == f"{fake_oauth.root_url}/copilot"
    assert copilot.expires_at > time.time() + 1000
    assert copilot.token not in repr(copilot)


async def test_copilot_exchange_failures_are_permanent(
    fake_oauth: FakeOAuth, client: httpx.AsyncClient
) -> None:
    with pytest.raises(RefreshError, match="log in again") as caught:
        await exchange_copilot_token("gho_revoked", client=client)
    assert caught.value.permanent
    assert "gho_revoked" not in str(caught.value)
    fake_oauth.copilot_entitled = False
    record = fake_oauth.make_record("copilot")
    with pytest.raises(RefreshError, match="subscription") as caught:
        await exchange_copilot_token(record["access_token"], client=client)
    assert caught.value.permanent


def test_lead_times() -> None:
    assert refresh_lead_seconds("claude") == 4 * 3600
    assert refresh_lead_seconds("codex") == 5 * 24 * 3600
    assert refresh_lead_seconds("qwen") == 3 * 3600
    assert refresh_lead_seconds("iflow") == 24 * 3600
    assert refresh_lead_seconds("gemini") == refresh_lead_seconds("gemini-cli") == 300
    assert refresh_lead_seconds("vertex") == 300
    with pytest.raises(RefreshError):
        refresh_lead_seconds("martian")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"expired": "2030-01-02T03:04:05Z"}, 1893553445.0),
        ({"expired": "2030-01-02T04:04:05+01:00"}, 1893553445.0),
        ({"expiry": "2030-01-02T03:04:05Z"}, 1893553445.0),
        ({"expires_at": 1893553445}, 1893553445.0),
        ({"expires_at": 1893553445000}, 1893553445.0),
        ({"expiry_date": 1893553445000}, 1893553445.0),
        ({"token": {"expiry": "2030-01-02T03:04:05.123456Z"}}, 1893553445.123456),
        ({"timestamp": 1893553400000, "expires_in": 45}, 1893553445.0),
        ({"expired": ""}, None),
        ({"expired": "soon"}, None),
        ({}, None),
    ],
)
def test_expires_at_reads_every_form(record: dict[str, Any], expected: float | None) -> None:
    found = expires_at(record)
    if expected is None:
        assert found is None
    else:
        assert found == pytest.approx(expected)
