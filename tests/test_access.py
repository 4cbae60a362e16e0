"""Client access: where keys may be presented, 401s that never echo them, and safe defaults."""

from __future__ import annotations

import pytest

from aiproxyapi.access import ClientKeys, UnsafeConfigError, check_access_safety, is_loopback_host
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.secret import fingerprint

KEY = "gw-client-key-0123456789abcdef"
OTHER = "gw-client-key-fedcba9876543210"
KEYS = ClientKeys([KEY, OTHER])


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"authorization": f"Bearer {KEY}"}, {}),
        ({"authorization": f"bearer   {KEY}  "}, {}),
        ({"authorization": KEY}, {}),
        ({"x-api-key": KEY}, {}),
        ({"x-goog-api-key": f" {KEY} "}, {}),
        ({}, {"key": KEY}),
        # An empty Bearer does not hide a key sent another way.
        ({"authorization": "Bearer ", "x-api-key": KEY}, {}),
    ],
    ids=["bearer", "bearer-lowercase", "bare", "x-api-key", "x-goog-api-key", "query", "fallback"],
)
def test_a_known_key_is_accepted_wherever_it_is_sent(
    headers: dict[str, str], query: dict[str, str]
) -> None:
    assert KEYS.authenticate(headers, query) == f"key-{fingerprint(KEY)}"


def test_each_key_has_its_own_label_without_the_key() -> None:
    labels = {KEYS.authenticate({"x-api-key": k}, {}) for k in (KEY, OTHER)}
    assert len(labels) == 2
    for label in labels:
        assert KEY not in label
        assert OTHER not in label
        assert KEY[-8:] not in label


@pytest.mark.parametrize(
    ("headers", "query"),
    [({}, {}), ({"authorization": "Bearer "}, {}), ({"x-api-key": "  "}, {"key": ""})],
)
def test_a_missing_key_is_a_401(headers: dict[str, str], query: dict[str, str]) -> None:
    with pytest.raises(ClientRequestError) as caught:
        KEYS.authenticate(headers, query)
    error = caught.value
    assert (error.status, error.code, error.kind) == (
        401,
        "invalid_api_key",
        "authentication_error",
    )
    assert "Missing" in error.message


@pytest.mark.parametrize(
    "wrong",
    [
        "gw-client-key-0123456789abcdeX",  # one character off
        KEY[:-1],  # a prefix of the real key
        KEY + "0",
        f"Basic {KEY}",  # not a Bearer token: the whole value is the key, and it is wrong
        "sk-ünïcödé-key-\udcff",
    ],
)
@pytest.mark.invariant(2)
def test_a_wrong_key_is_a_401_that_never_echoes_it(wrong: str) -> None:
    with pytest.raises(ClientRequestError) as caught:
        KEYS.authenticate({"authorization": wrong}, {})
    error = caught.value
    assert (error.status, error.code) == (401, "invalid_api_key")
    for shown in (error.message, str(error), repr(error), repr(error.args)):
        assert wrong not in shown
        assert KEY not in shown


def test_a_wrong_key_in_the_query_is_a_401_too() -> None:
    with pytest.raises(ClientRequestError) as caught:
        KEYS.authenticate({}, {"key": "guess"})
    assert caught.value.status == 401
    assert "guess" not in caught.value.message


def test_the_authorization_header_wins_over_other_places() -> None:
    with pytest.raises(ClientRequestError):
        KEYS.authenticate({"authorization": "Bearer wrong", "x-api-key": KEY}, {"key": KEY})


def test_open_mode_lets_everyone_in() -> None:
    keys = ClientKeys([])
    assert keys.open is True
    assert KEYS.open is False
    assert keys.authenticate({}, {}) == "anonymous"
    assert keys.authenticate({"authorization": "Bearer anything"}, {}) == "anonymous"


@pytest.mark.parametrize("placeholder", ["your-api-key-1", "your-api-key-2", "your-api-key-3"])
@pytest.mark.invariant(8)
def test_the_sample_placeholder_keys_are_refused_even_on_loopback(placeholder: str) -> None:
    with pytest.raises(UnsafeConfigError, match=placeholder):
        check_access_safety("127.0.0.1", [KEY, placeholder])


@pytest.mark.parametrize("host", ["", "0.0.0.0", "::", "192.168.1.10", "example.org", "[::]"])
def test_no_keys_on_a_public_address_is_refused(host: str) -> None:
    assert is_loopback_host(host) is False
    with pytest.raises(UnsafeConfigError, match="api-keys is empty"):
        check_access_safety(host, [])


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]"]
)
def test_no_keys_on_loopback_is_allowed(host: str) -> None:
    assert is_loopback_host(host) is True
    check_access_safety(host, [])


def test_real_keys_are_allowed_anywhere() -> None:
    check_access_safety("0.0.0.0", [KEY])
    check_access_safety("", [KEY, OTHER])


# -- key policies: expiry and model allow-lists -----------------------------------------------


def test_an_expired_key_is_refused_with_its_own_code() -> None:
    from aiproxyapi.config.client_keys import ClientKeyPolicy

    keys = ClientKeys(
        [
            ClientKeyPolicy(key=KEY, expires="2020-01-01"),
            ClientKeyPolicy(key=OTHER, expires="2999-12-31T23:00:00+02:00"),
        ]
    )
    with pytest.raises(ClientRequestError) as refused:
        keys.authenticate({"x-api-key": KEY}, {})
    assert (refused.value.status, refused.value.code) == (401, "expired_api_key")
    assert KEY not in refused.value.message
    label = keys.authenticate({"x-api-key": OTHER}, {})
    policy = keys.policy(label)
    assert policy is not None
    assert policy.key == OTHER


@pytest.mark.parametrize(
    ("patterns", "model", "allowed"),
    [
        ((), "anything", True),
        (("gpt-4o*",), "gpt-4o-mini", True),
        (("gpt-4o*",), "gpt-4", False),
        (("*-mini",), "gpt-4o-mini", True),
        (("claude-*-4-5",), "claude-sonnet-4-5", True),
        (("claude-*-4-5",), "claude-sonnet-4-5-latest", False),
        (("gpt-4.1",), "gpt-411", False),  # a dot is a dot, not any character
        (("m?",), "m1", False),  # only `*` is a wildcard
    ],
)
def test_model_allow_list_wildcards(patterns: tuple[str, ...], model: str, allowed: bool) -> None:
    from aiproxyapi.access import check_model, model_allowed
    from aiproxyapi.config.client_keys import ClientKeyPolicy

    policy = ClientKeyPolicy(key=KEY, models=patterns)
    assert model_allowed(policy, model) is allowed
    if allowed:
        check_model(policy, model)
    else:
        with pytest.raises(ClientRequestError) as refused:
            check_model(policy, model)
        assert (refused.value.status, refused.value.code) == (403, "model_not_allowed")


def test_a_resolved_name_on_the_list_is_enough() -> None:
    from aiproxyapi.access import model_allowed
    from aiproxyapi.config.client_keys import ClientKeyPolicy

    policy = ClientKeyPolicy(key=KEY, models=("gpt-4o",))
    assert model_allowed(policy, "gpt-4o(high)", "gpt-4o")
