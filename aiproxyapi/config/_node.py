"""The base of every config node."""

from __future__ import annotations

import msgspec

__all__ = ["_Node"]


# Subclasses restate `frozen=True`: msgspec inherits it, but mypy's dataclass_transform does not.
class _Node(msgspec.Struct, frozen=True, kw_only=True, rename="kebab", forbid_unknown_fields=True):
    """Base of every config node: kebab-case keys, immutable, unknown keys refused."""
