"""Type aliases shared by the route modules."""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request
from litestar.datastructures import State

__all__ = ["HttpRequest"]

HttpRequest: TypeAlias = Request[Any, Any, State]
