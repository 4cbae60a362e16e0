"""Conversation histories kept as state documents of the gateway's store.

A history is the canonical messages of the conversation, oldest first. Past the configured
number of messages or bytes the oldest go, and the history then starts at the first user turn
that is not a tool result, so every dialect accepts it as the start of a conversation.
"""

from __future__ import annotations

import asyncio
import re

import msgspec

from aiproxyapi.canonical import Message, Role, ToolResultPart
from aiproxyapi.config.features import Conversations
from aiproxyapi.errors import ClientRequestError
from storage import Store, check_name

__all__ = ["ConversationStore", "check_conversation_id"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PREFIX = "conversation."


class _History(msgspec.Struct):
    version: int
    messages: list[Message]


_decoder = msgspec.json.Decoder(_History)


def check_conversation_id(value: str) -> str:
    """The id when it is usable; a 400 naming the rule otherwise."""
    if not _ID.match(value) or ".." in value:
        raise ClientRequestError(
            "`X-Conversation-Id` must be 1 to 100 letters, digits, `.`, `_` or `-`, starting "
            'with a letter or digit, e.g. "X-Conversation-Id: support-42"',
            param="X-Conversation-Id",
            code="invalid_conversation_id",
        )
    return value


def _document(client: str, conversation: str) -> str:
    return check_name(f"{_PREFIX}{client}.{conversation}")


def _bounded(messages: list[Message], settings: Conversations) -> list[Message]:
    sizes = [len(msgspec.json.encode(message)) for message in messages]
    start, total = 0, sum(sizes)
    while start < len(messages) and (
        len(messages) - start > settings.max_turns or total > settings.max_bytes
    ):
        total -= sizes[start]
        start += 1
    while start < len(messages) and not _opens(messages[start]):
        start += 1
    return messages[start:]


def _opens(message: Message) -> bool:
    return message.role is Role.USER and not any(
        isinstance(part, ToolResultPart) for part in message.parts
    )


class ConversationStore:
    """Reads, appends to and clears conversations; one writer at a time per conversation."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._locks: dict[str, asyncio.Lock] = {}

    async def load(self, client: str, conversation: str) -> list[Message]:
        """The stored history (empty when there is none)."""
        raw = await self._store.read_state(_document(client, conversation))
        if not raw:
            return []
        try:
            return _decoder.decode(raw).messages
        except (msgspec.DecodeError, UnicodeError):
            return []

    async def append(
        self, client: str, conversation: str, messages: list[Message], settings: Conversations
    ) -> None:
        """Add messages at the end, dropping the oldest past the bounds."""
        name = _document(client, conversation)
        async with self._locks.setdefault(name, asyncio.Lock()):
            history = await self.load(client, conversation)
            kept = _bounded([*history, *messages], settings)
            await self._store.write_state(name, msgspec.json.encode(_History(1, kept)))

    async def clear(self, client: str, conversation: str) -> None:
        """Forget a conversation."""
        name = _document(client, conversation)
        async with self._locks.setdefault(name, asyncio.Lock()):
            await self._store.write_state(name, msgspec.json.encode(_History(1, [])))
