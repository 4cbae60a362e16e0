"""credentials_from_config: enabled entries only, one credential per key, stable ids, safe labels."""

from __future__ import annotations

from aiproxyapi.credential import ProviderKind
from tests.factories import credentials_from_yaml

KEYS = ("sk-live-first-0000000001", "sk-live-second-000000002", "sk-live-third-0000000003")


def compat(*keys: str, name: str = "alpha", disabled: bool = False, base: str = "alpha") -> str:
    entries = "".join(f"      - api-key: {key}\n" for key in keys)
    return (
        f"  - name: {name}\n"
        f"    base-url: https://{base}.invalid/v1/\n"
        f"    disabled: {str(disabled).lower()}\n"
        f"    api-key-entries:\n{entries}"
        "    models:\n      - name: m\n"
    )


def test_every_provider_list_becomes_credentials_in_declaration_order() -> None:
    creds = credentials_from_yaml(
        "openai-compatibility:\n"
        + compat(KEYS[0], KEYS[1])
        + f"claude-api-key:\n  - api-key: {KEYS[2]}\n    priority: 3\n    weight: 7\n"
        + f"gemini-api-key:\n  - api-key: {KEYS[0]}\n"
    )
    assert [(c.kind, c.provider) for c in creds] == [
        (ProviderKind.OPENAI_COMPAT, "alpha"),
        (ProviderKind.OPENAI_COMPAT, "alpha"),
        (ProviderKind.CLAUDE, "claude"),
        (ProviderKind.GEMINI, "gemini"),
    ]
    assert [c.api_key.reveal() for c in creds] == [KEYS[0], KEYS[1], KEYS[2], KEYS[0]]
    assert creds[0].base_url == "https://alpha.invalid/v1"  # trailing slash dropped
    assert creds[2].base_url == "https://api.anthropic.com"  # the provider's default
    assert (creds[2].priority, creds[2].weight) == (3, 7)
    # The same key at another provider is another credential.
    assert creds[0].id != creds[3].id


def test_disabled_entries_are_skipped() -> None:
    creds = credentials_from_yaml(
        "openai-compatibility:\n"
        + compat(KEYS[0], name="off", disabled=True, base="off")
        + compat(KEYS[1], name="on", base="on")
    )
    assert [c.provider for c in creds] == ["on"]


def test_the_same_key_twice_is_one_credential() -> None:
    creds = credentials_from_yaml(
        "openai-compatibility:\n"
        + compat(KEYS[0], KEYS[0], f"' {KEYS[0]} '")
        + f"claude-api-key:\n  - api-key: {KEYS[1]}\n  - api-key: {KEYS[1]}\n"
    )
    assert [c.api_key.reveal() for c in creds] == [KEYS[0], KEYS[1]]


def test_ids_are_stable_across_reorderings_and_distinct_per_key() -> None:
    forward = credentials_from_yaml("openai-compatibility:\n" + compat(*KEYS))
    backward = credentials_from_yaml("openai-compatibility:\n" + compat(*reversed(KEYS)))
    by_key = {c.api_key.reveal(): (c.id, c.label) for c in forward}
    assert {c.api_key.reveal(): (c.id, c.label) for c in backward} == by_key
    assert len({cid for cid, _ in by_key.values()}) == 3
    # Another base URL is another upstream: another id for the same key.
    elsewhere = credentials_from_yaml("openai-compatibility:\n" + compat(KEYS[0], base="beta"))
    assert elsewhere[0].id != by_key[KEYS[0]][0]


def test_labels_and_reprs_never_contain_the_key() -> None:
    creds = credentials_from_yaml(
        "openai-compatibility:\n"
        + compat(*KEYS)
        + f"claude-api-key:\n  - api-key: {KEYS[0]}\n"
        + f"vertex-api-key:\n  - api-key: {KEYS[1]}\n    base-url: https://vertex.invalid\n"
    )
    assert len(creds) == 5
    for cred in creds:
        secret = cred.api_key.reveal()
        for shown in (cred.label, cred.id, repr(cred), str(cred)):
            assert secret not in shown
            assert secret[-8:] not in shown
    assert len({c.label for c in creds}) == 5


def test_a_codex_key_without_base_url_is_left_out() -> None:
    creds = credentials_from_yaml(
        f"codex-api-key:\n  - api-key: {KEYS[0]}\n"
        f"  - api-key: {KEYS[1]}\n    base-url: https://codex.invalid/v1\n"
    )
    assert [(c.kind, c.base_url) for c in creds] == [
        (ProviderKind.CODEX, "https://codex.invalid/v1")
    ]


def test_one_key_shared_by_two_entries_serves_both_entries_models() -> None:
    creds = credentials_from_yaml(
        "openai-compatibility:\n"
        + compat(KEYS[0], name="alpha", base="shared")
        + compat(KEYS[0], name="beta", base="shared")
    )
    assert [c.provider for c in creds] == ["alpha", "beta"]
    assert creds[0].id != creds[1].id
