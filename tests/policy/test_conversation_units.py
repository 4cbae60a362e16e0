"""Conversation history: bounds, document names, and history spliced into each dialect."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiproxyapi.canonical import Message, Role, TextPart, ToolCallPart, ToolResultPart
from aiproxyapi.config.features import Conversations
from aiproxyapi.conversation import ConversationStore, check_conversation_id, with_history
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.formats import Format
from storage import FileStore


def say(role: Role, text: str) -> Message:
    return Message(role=role, parts=[TextPart(text=text)])


HISTORY = [say(Role.USER, "first question"), say(Role.ASSISTANT, "first answer")]


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "auths", tmp_path / "config.yaml")


async def test_history_keeps_the_newest_turns_and_starts_at_a_user_turn(store: FileStore) -> None:
    conversations = ConversationStore(store)
    settings = Conversations(max_turns=3)
    for turn in range(3):
        await conversations.append(
            "key-1", "c", [say(Role.USER, f"q{turn}"), say(Role.ASSISTANT, f"a{turn}")], settings
        )
    kept = await conversations.load("key-1", "c")
    # Three newest are a1, q2, a2; a history never opens with an assistant turn.
    assert [(m.role, m.parts[0].text) for m in kept] == [(Role.USER, "q2"), (Role.ASSISTANT, "a2")]  # type: ignore[union-attr]


async def test_history_is_bounded_in_bytes_and_skips_orphan_tool_results(store: FileStore) -> None:
    conversations = ConversationStore(store)
    settings = Conversations(max_turns=100, max_bytes=400)
    call = Message(role=Role.ASSISTANT, parts=[ToolCallPart(id="t1", name="f", arguments="{}")])
    result = Message(
        role=Role.USER, parts=[ToolResultPart(tool_call_id="t1", content=[TextPart(text="r")])]
    )
    await conversations.append("key-1", "c", [say(Role.USER, "x" * 300), call, result], settings)
    await conversations.append("key-1", "c", [say(Role.USER, "short")], settings)
    kept = await conversations.load("key-1", "c")
    assert [m.parts[0].text for m in kept] == ["short"]  # type: ignore[union-attr]


async def test_conversations_are_per_key_and_cleared(store: FileStore) -> None:
    conversations = ConversationStore(store)
    settings = Conversations()
    await conversations.append("key-1", "c", HISTORY, settings)
    assert await conversations.load("key-2", "c") == []
    await conversations.clear("key-1", "c")
    assert await conversations.load("key-1", "c") == []
    assert (await store.read_state("conversation.key-1.c")) is not None


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "a..b", "x" * 101, "sp ace"])
def test_conversation_ids_are_checked(bad: str) -> None:
    with pytest.raises(ClientRequestError):
        check_conversation_id(bad)


@pytest.mark.parametrize(
    ("dialect", "body", "messages_of"),
    [
        (
            Format.OPENAI_CHAT,
            {
                "model": "m",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "next"},
                ],
            },
            lambda b: [(m["role"], m["content"]) for m in b["messages"]],
        ),
        (
            Format.CLAUDE,
            {
                "model": "m",
                "max_tokens": 10,
                "system": "be brief",
                "messages": [{"role": "user", "content": "next"}],
            },
            lambda b: [
                (
                    m["role"],
                    m["content"][0]["text"] if isinstance(m["content"], list) else m["content"],
                )
                for m in b["messages"]
            ],
        ),
        (
            Format.GEMINI,
            {"contents": [{"role": "user", "parts": [{"text": "next"}]}]},
            lambda b: [(c["role"], c["parts"][0]["text"]) for c in b["contents"]],
        ),
    ],
)
def test_history_goes_before_the_new_messages_in_each_dialect(dialect, body, messages_of) -> None:  # type: ignore[no-untyped-def]
    spliced, added = with_history(dialect, body, "m", HISTORY)
    seen = messages_of(spliced)
    assert seen[-3:] == [
        ("user", "first question"),
        ("model" if dialect is Format.GEMINI else "assistant", "first answer"),
        ("user", "next"),
    ]
    assert len(added) == 1
    assert "model" not in spliced or dialect is not Format.GEMINI
