"""Tokens derived at runtime: Copilot's from the GitHub token, Vertex's from a service account.

Neither is stored: the record keeps the long-lived secret (GitHub token, service-account key)
and the book caches the derived token in memory until shortly before it expires. The exchanges
themselves are the login package's (`auth.providers`).
"""

from __future__ import annotations

import time

import httpx

from aiproxyapi.accounts.book import Minted
from aiproxyapi.accounts.records import AccountRecord
from auth.errors import RefreshError

__all__ = ["mint_token"]


async def mint_token(record: AccountRecord, client: httpx.AsyncClient) -> Minted:
    """A fresh derived token for a Copilot or Vertex record; RefreshError when it fails."""
    if record.channel == "copilot":
        from auth.providers.copilot import exchange_copilot_token

        github = record.data.get("github_token") or record.data.get("access_token")
        copilot = await exchange_copilot_token(str(github or ""), client=client)
        return Minted(copilot.token, copilot.expires_at, copilot.api_url)
    if record.channel == "vertex":
        from auth.refresh import expires_at, refresh_record

        # For a vertex record, the login package's refresh mints a token from the service
        # account; it is used here without being stored.
        minted = await refresh_record(dict(record.data), client=client)
        token = minted.get("access_token")
        if not isinstance(token, str) or not token:
            raise RefreshError("the service-account token request gave no token")
        return Minted(token, expires_at(minted) or time.time() + 3000)
    raise RefreshError(f"records of type {record.channel} carry their own token", permanent=True)
