"""A wrapper that keeps secret strings out of reprs, logs and tracebacks."""

from __future__ import annotations

import hashlib

__all__ = ["Secret", "fingerprint"]


def fingerprint(value: str, length: int = 8) -> str:
    """A short stable digest of a secret, safe to show in labels and logs."""
    return hashlib.sha256(value.encode()).hexdigest()[:length]


class Secret:
    """A secret string that shows itself only through ``reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The plain value, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret(sha256:{fingerprint(self._value)})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)
