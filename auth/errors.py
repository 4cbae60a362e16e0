"""Errors of the login and refresh flows: what went wrong and whether trying again can help."""

from __future__ import annotations

__all__ = ["AuthFlowError", "RefreshError"]


class AuthFlowError(Exception):
    """A login flow failed; the message says what went wrong and what to do."""


class RefreshError(Exception):
    """A token refresh failed.

    `permanent` is true when retrying cannot help (the refresh token was revoked or the record
    is unusable): the credential goes to the error state until an operator logs in again.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
