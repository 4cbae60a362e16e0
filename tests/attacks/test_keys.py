"""A1, A2: wrong and missing keys on every route, and how a client key is compared."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from types import FrameType
from typing import Any

import httpx
import pytest

from aiproxyapi import access
from aiproxyapi.access import ClientKeys
from aiproxyapi.errors import ClientRequestError
from tests.attacks._routes import Route, app_routes, concrete
from tests.attacks.conftest import Canaries
from tests.support.gateway import GatewayProcess

ROUTES = app_routes()
CLIENT_ROUTES = [route for route in ROUTES if route.kind == "client"]
MANAGEMENT_ROUTES = [route for route in ROUTES if route.kind == "management"]
BODY = {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "input": "hi"}


_CLIENT = httpx.Client(timeout=15, trust_env=False)


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    _CLIENT.close()


def _send(gateway: GatewayProcess, route: Route, headers: dict[str, str], query: str = "") -> Any:
    url = f"{gateway.base_url}{concrete(route.path)}{query}"
    body = BODY if route.method in {"POST", "PUT", "PATCH"} else None
    return _CLIENT.request(route.method, url, json=body, headers=headers)


def _text(response: httpx.Response) -> str:
    return f"{response.status_code} {dict(response.headers)} {response.text}"


def test_the_route_table_is_sorted_into_known_kinds() -> None:
    # A new route lands in "client" (a key is demanded) unless it is listed as public.
    assert {route.kind for route in ROUTES} == {"client", "management", "callback", "public"}
    assert any(route.path == "/v1/chat/completions" for route in CLIENT_ROUTES)
    assert len(MANAGEMENT_ROUTES) > 40


@pytest.mark.invariant(2, 4, 8)
@pytest.mark.parametrize("route", CLIENT_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_client_route_refuses_missing_and_wrong_keys_alike(
    attack_gateway: GatewayProcess, canaries: Canaries, route: Route
) -> None:
    wrong = f"sk-canary-wrong-{uuid.uuid4().hex}"
    missing = [
        _send(attack_gateway, route, {}),
        _send(attack_gateway, route, {"authorization": "Bearer"}),
        _send(attack_gateway, route, {"x-api-key": "", "authorization": "bearer"}),
    ]
    wrongs = [
        _send(attack_gateway, route, {"authorization": f"Bearer {wrong}"}),
        _send(attack_gateway, route, {"authorization": f"Bearer    {wrong}"}),
        _send(attack_gateway, route, {"x-api-key": wrong}),
        _send(attack_gateway, route, {"x-goog-api-key": wrong}),
        _send(attack_gateway, route, {}, f"?key={wrong}"),
        # The management secret is no client key.
        _send(attack_gateway, route, {"authorization": f"Bearer {canaries.management}"}),
    ]
    # The management carrier is none of the client API's: a key sent there is a missing key.
    missing.append(_send(attack_gateway, route, {"x-management-key": canaries.client}))
    for group in (missing, wrongs):
        assert {response.status_code for response in group} == {401}, route
        assert len({response.content for response in group}) == 1, [r.text for r in group]
    for response in missing + wrongs:
        assert wrong not in _text(response)
        assert canaries.management not in _text(response)


@pytest.mark.invariant(8)
def test_a_right_client_key_passes_on_each_carrier(
    attack_gateway: GatewayProcess, canaries: Canaries
) -> None:
    route = next(r for r in CLIENT_ROUTES if r.path == "/v1/models")
    for headers, query in (
        ({"authorization": f"Bearer {canaries.client}"}, ""),
        ({"authorization": f"Bearer   {canaries.client}"}, ""),
        ({"x-api-key": canaries.client}, ""),
        ({}, f"?key={canaries.client}"),
    ):
        assert _send(attack_gateway, route, headers, query).status_code == 200


@pytest.mark.invariant(2, 4, 8)
def test_every_management_route_refuses_client_keys_and_wrong_secrets(
    attack_gateway: GatewayProcess, canaries: Canaries
) -> None:
    wrong = f"sk-canary-wrong-mgmt-{uuid.uuid4().hex}"
    right = {"authorization": f"Bearer {canaries.management}"}
    debug = Route("/v0/management/debug", "GET", "management")
    failures = 0
    for route in MANAGEMENT_ROUTES:
        missing = _send(attack_gateway, route, {})
        assert (missing.status_code, missing.json()) == (401, {"error": "missing management key"})
        # The management secret in the query string is no carrier for it.
        in_query = _send(attack_gateway, route, {}, f"?key={canaries.management}")
        assert in_query.content == missing.content, route
        answers = [
            _send(attack_gateway, route, {"authorization": f"Bearer {wrong}"}),
            _send(attack_gateway, route, {"authorization": f"Bearer {canaries.client}"}),
            _send(attack_gateway, route, {"x-management-key": canaries.client}),
        ]
        failures += len(answers)
        for answer in answers:
            assert answer.status_code == 401, (route, answer.text)
            assert answer.json() == {"error": "invalid management key"}
            assert wrong not in _text(answer)
            assert canaries.client not in _text(answer)
        # A right key clears the failure count before it reaches the ban (5 in a row).
        assert _send(attack_gateway, debug, right).status_code == 200
    assert failures >= 3 * len(MANAGEMENT_ROUTES)
    logs = attack_gateway.log_text()
    assert wrong not in logs
    for secret in canaries.all:
        assert secret not in logs, secret[:20]


# A2: the comparison of client keys.


def _trace_lines(keys: ClientKeys, presented: str) -> list[tuple[str, int]]:
    """The (function, line) sequence authenticate runs through for one presented key."""
    lines: list[tuple[str, int]] = []

    def tracer(frame: FrameType, event: str, _arg: object) -> Any:
        if frame.f_code.co_filename == access.__file__ and event == "line":
            lines.append((frame.f_code.co_name, frame.f_lineno))
        return tracer

    sys.settrace(tracer)
    try:
        keys.authenticate({"authorization": f"Bearer {presented}"}, {})
    except ClientRequestError:
        pass
    finally:
        sys.settrace(None)
    return lines


@pytest.fixture
def digest_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []
    real = access._digest

    def counting(key: str) -> bytes:
        seen.append(key)
        return real(key)

    monkeypatch.setattr(access, "_digest", counting)
    return seen


@pytest.mark.invariant(8)
def test_a_key_sharing_31_characters_takes_the_same_path_as_a_random_one(
    digest_calls: list[str],
) -> None:
    real = "sk-" + uuid.uuid4().hex  # 35 characters
    keys = ClientKeys([real, "sk-" + uuid.uuid4().hex])
    digest_calls.clear()
    near = real[:31] + "zzzz"
    far = "sk-" + uuid.uuid4().hex
    short = "x"
    paths = {name: _trace_lines(keys, key) for name, key in (("near", near), ("far", far))}
    assert paths["near"] == paths["far"]
    assert _trace_lines(keys, short) == paths["far"]  # a wrong length changes nothing either
    # Each attempt hashed the presented key once and compared nothing else with it.
    assert digest_calls == [near, far, short]


def test_client_keys_are_found_by_digest_not_by_their_text() -> None:
    real = "sk-" + uuid.uuid4().hex
    keys = ClientKeys([real])
    lookup = keys._labels
    assert real not in lookup
    assert access._digest(real) in lookup
    assert all(isinstance(digest, bytes) and len(digest) == 32 for digest in lookup)
