"""Accounts: OAuth auth records as pool credentials, their live tokens and their lifecycle.

Beside the request flow: records come from the store (`sync`), become credentials for each new
runtime (`oauth_credentials`), and their tokens live in the `AccountBook`, which the OAuth
executors ask for every call and the background refresher keeps fresh.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from aiproxyapi.accounts.book import (
    Account,
    AccountBook,
    AccountStatus,
    Lifecycle,
    LockUnavailable,
    Minted,
    RefreshFailed,
    RefreshLock,
)
from aiproxyapi.accounts.catalog import DEFAULT_MODELS, served_models
from aiproxyapi.accounts.records import AccountRecord, RecordError, parse_record
from aiproxyapi.accounts.refresher import run_refresher
from aiproxyapi.accounts.sync import follow_records, load_records
from aiproxyapi.config import Config
from aiproxyapi.credential import OAuthCredential

__all__ = [
    "DEFAULT_MODELS",
    "Account",
    "AccountBook",
    "AccountRecord",
    "AccountStatus",
    "Lifecycle",
    "LockUnavailable",
    "Minted",
    "RecordError",
    "RefreshFailed",
    "RefreshLock",
    "default_lifecycle",
    "follow_records",
    "load_records",
    "oauth_credentials",
    "parse_record",
    "run_refresher",
]


def default_lifecycle() -> Lifecycle:
    """The provider functions of `auth.refresh` and the runtime token minting."""
    from aiproxyapi.accounts.mint import mint_token
    from auth import refresh

    return Lifecycle(
        refresh=refresh.refresh_record,
        lead_seconds=refresh.refresh_lead_seconds,
        expires_at=refresh.expires_at,
        mint=mint_token,
    )


def oauth_credentials(records: Iterable[AccountRecord], config: Config) -> list[OAuthCredential]:
    """The pool credentials of the enabled records under this config's channel rules."""
    found = []
    for record in records:
        if record.disabled:
            continue
        excluded = record.credential.excluded_models + config.channel_excluded(record.channel)
        found.append(
            msgspec.structs.replace(
                record.credential,
                models=served_models(record.channel, config, record.aliases),
                excluded_models=excluded,
            )
        )
    return found
