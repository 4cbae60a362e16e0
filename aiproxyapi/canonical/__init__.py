"""The canonical model every dialect decodes into and encodes from (the hub of translation)."""

from aiproxyapi.canonical.usage import Usage

__all__ = ["Usage"]
