"""Dialect-neutral views of a recorded request body: its system prompt, tool names and images.

End-to-end tests put any client dialect in front of any upstream kind; these let them assert
what reached the upstream without knowing which wire shape it took (wire-formats.md §9.2).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["images", "system_text", "tool_names"]


def _texts(content: Any) -> list[str]:
    """The text of a string, or of the text-like parts of a content list."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, dict):
        content = content.get("parts", [content])
    if not isinstance(content, list):
        return []
    return [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]


def system_text(dialect: str, body: Any) -> str | None:
    """The system/developer text, joined by newlines; None when there is none."""
    if not isinstance(body, dict):
        return None
    texts: list[str] = []
    if dialect == "claude":
        texts = _texts(body.get("system"))
    elif dialect == "gemini":
        texts = _texts(body.get("systemInstruction", body.get("system_instruction")))
    else:
        if dialect != "openai" and isinstance(body.get("instructions"), str):
            texts.append(body["instructions"])
        turns = body.get("messages" if dialect == "openai" else "input")
        for turn in turns if isinstance(turns, list) else []:
            if isinstance(turn, dict) and turn.get("role") in ("system", "developer"):
                texts += _texts(turn.get("content"))
    return "\n".join(texts) if texts else None


def tool_names(dialect: str, body: Any) -> list[str]:
    """Names of the declared function tools."""
    tools = body.get("tools") if isinstance(body, dict) else None
    names: list[str] = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        if dialect == "gemini":
            declared = tool.get("functionDeclarations", tool.get("function_declarations")) or []
            names += [d["name"] for d in declared if isinstance(d, dict) and "name" in d]
        elif dialect == "openai":
            function = tool.get("function")
            if isinstance(function, dict) and "name" in function:
                names.append(function["name"])
        elif "name" in tool and tool.get("type", "function") in ("function", "custom"):
            names.append(tool["name"])
    return names


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    # Request bodies are finite trees parsed from JSON, so the recursion ends.
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _image(dialect: str, node: dict[str, Any]) -> str | None:
    kind = node.get("type")
    if dialect == "openai" and kind == "image_url":
        inner = node.get("image_url")
        return inner.get("url") if isinstance(inner, dict) else inner
    if dialect in ("openai-responses", "codex") and kind == "input_image":
        return node.get("image_url") or node.get("file_id")
    if dialect == "claude" and kind == "image" and isinstance(node.get("source"), dict):
        source = node["source"]
        if source.get("type") == "base64":
            return f"data:{source.get('media_type')};base64,{source.get('data')}"
        return source.get("url") or source.get("file_id")
    if dialect == "gemini":
        inline = node.get("inlineData", node.get("inline_data"))
        if isinstance(inline, dict):
            mime = inline.get("mimeType", inline.get("mime_type", ""))
            if str(mime).startswith("image/"):
                return f"data:{mime};base64,{inline.get('data')}"
        ref = node.get("fileData", node.get("file_data"))
        if isinstance(ref, dict):
            mime = ref.get("mimeType", ref.get("mime_type", ""))
            if str(mime).startswith("image/"):
                return ref.get("fileUri", ref.get("file_uri"))
    return None


def images(dialect: str, body: Any) -> list[str]:
    """Every image part anywhere in the body, tool results included, in document order."""
    found = (_image(dialect, node) for node in _walk(body))
    return [image for image in found if image]
