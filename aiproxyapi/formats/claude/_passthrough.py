"""Claude to Claude without translation: the body as the client sent it, made acceptable.

Claude Code puts `role: "system"` entries inside `messages`, which the Messages API refuses;
they are hoisted into the top-level `system`, in order, and nothing else changes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["prepare_passthrough"]


def prepare_passthrough(body: dict[str, Any], model: str) -> dict[str, Any]:
    """The upstream body for a Claude client's request: `model` rewritten, system turns hoisted."""
    out = dict(body)
    out["model"] = model
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(_is_system(m) for m in messages):
        return out
    system = _blocks(body.get("system"))
    kept = []
    for message in messages:
        if _is_system(message):
            system.extend(_blocks(message.get("content")))
        else:
            kept.append(message)
    out["messages"] = kept
    out["system"] = system
    return out


def _is_system(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") == "system"


def _blocks(content: Any) -> list[Any]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return list(content)
    return [{"type": "text", "text": str(content)}]
