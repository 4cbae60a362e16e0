"""Shared conversations: a stored history any dialect's client can continue.

Its place in the flow: a request carrying `X-Conversation-Id` is decoded into the canonical
model by the API layer, the stored history is put before its messages and the request is
encoded back into the client's dialect before the relay sees it; once the answer is complete,
the new messages and the answer are appended. History is kept in canonical form, one state
document per client key and conversation, bounded in messages and bytes.
"""

from aiproxyapi.conversation.history import ConversationStore, check_conversation_id
from aiproxyapi.conversation.splice import answer_message, stream_answer_message, with_history

__all__ = [
    "ConversationStore",
    "answer_message",
    "check_conversation_id",
    "stream_answer_message",
    "with_history",
]
