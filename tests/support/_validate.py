"""Request checks that make the fakes as strict as the real services, to catch gateway bugs.

Each check returns the message the real service gives (or a close paraphrase) and the fake
answers 400 in the dialect's envelope. The section cited is the one in wire-formats.md that
documents the rule. Only bodies the fake would answer successfully are checked: a scripted
error, hang or raw reply is sent whatever the body.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["chat", "claude", "codex", "gemini", "openai_embeddings", "responses"]

_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")


def chat(body: dict[str, Any]) -> str | None:
    """OpenAI Chat Completions (§1.2, §1.3)."""
    if not isinstance(body.get("model"), str):
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list):
        return "Missing required parameter: 'messages'."
    # §1.3: a tool message answers a tool_call of the assistant message right before the run of
    # tool messages it belongs to, and every such tool_call must be answered before moving on.
    pending: set[str] = set()
    answerable: set[str] = set()
    for message in messages:
        if not isinstance(message, dict):
            return "Invalid type for 'messages[]': expected an object."
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in answerable:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'."
                )
            pending.discard(call_id)
            continue
        if pending:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(sorted(pending))}"
            )
        calls = message.get("tool_calls") if role == "assistant" else None
        answerable = {c.get("id") for c in calls or [] if isinstance(c, dict)}
        pending = set(answerable)
    return None


def responses(body: dict[str, Any]) -> str | None:
    """OpenAI Responses (§2.1, §2.2)."""
    if not isinstance(body.get("model"), str):
        return "Missing required parameter: 'model'."
    items = body.get("input")
    if items is None:
        return "Missing required parameter: 'input'."
    if body.get("previous_response_id") or not isinstance(items, list):
        return None
    # §2.2: each function_call_output must answer a function_call earlier in the same input.
    calls: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call":
            calls.add(item.get("call_id", ""))
        elif item.get("type") == "function_call_output" and item.get("call_id") not in calls:
            return (
                f"No tool call found for function call output with call_id {item.get('call_id')}."
            )
    return None


def codex(body: dict[str, Any]) -> str | None:
    """ChatGPT Codex backend (§7.2), then the Responses rules."""
    if body.get("stream") is not True:
        return "Stream must be set to true"
    if body.get("store") is not False:  # Responses defaults store to true, so absent is refused
        return "Store must be set to false"
    # Required; "" passes, since CLIProxyAPI sends "" for a missing one and that works (§7.2).
    if "instructions" not in body:
        return "Instructions are required"
    if not isinstance(body["instructions"], str):
        return "Instructions are not valid"
    if "max_output_tokens" in body:
        return "Unsupported parameter: max_output_tokens"
    return responses(body)


def _blocks(content: Any) -> list[Any]:
    return content if isinstance(content, list) else []


def _claude_block(
    where: str, block: Any, open_calls: set[str], among_leading_results: bool
) -> str | None:
    """§4.3: one content block of a turn, given the previous turn's open tool calls."""
    if not isinstance(block, dict):
        return f"{where}: Input should be an object"
    kind = block.get("type")
    if kind == "text" and not block.get("text"):
        return f"{where}.text: text content blocks must be non-empty"
    if kind == "tool_result":
        if block.get("tool_use_id") not in open_calls:
            return (
                f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{block.get('tool_use_id')}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        if not among_leading_results:
            return f"{where}: `tool_result` blocks must come first in the user message"
    if kind == "tool_use" and not _TOOL_ID.match(str(block.get("id", ""))):
        return f"{where}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"
    if kind == "thinking" and not block.get("signature"):
        return f"{where}.thinking.signature: Field required"
    return None


def _claude_turns(messages: list[Any], thinking_on: bool) -> str | None:
    previous_role: str | None = None
    open_calls: set[str] = set()
    # §4.3 rule 4 binds the live tool loop only: the last assistant turn, if it calls tools.
    assistants = [
        i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"
    ]
    live_turn = assistants[-1] if assistants else -1
    live_blocks = _blocks(messages[live_turn].get("content")) if assistants else []
    if not any(isinstance(b, dict) and b.get("type") == "tool_use" for b in live_blocks):
        live_turn = -1
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if not isinstance(role, str) or role not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        # The live API merges same-role turns (§4.2), but §9.2 obliges the gateway to merge them
        # itself, so the fake refuses them to catch a translator that does not.
        if role == previous_role:
            return (
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        content = message.get("content")
        final_assistant = role == "assistant" and i == len(messages) - 1
        if content in ("", []) and not final_assistant:
            return (
                f"messages.{i}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        blocks = _blocks(content)
        results = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"]
        # §4.3 rules 1, 2 and 5: results answer the previous turn's calls, all of them, first.
        if open_calls and {b.get("tool_use_id") for b in results} != open_calls:
            missing = sorted(open_calls - {b.get("tool_use_id") for b in results})
            if missing:
                return (
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                    "corresponding `tool_result` block in the next message."
                )
        for j, block in enumerate(blocks):
            problem = _claude_block(
                f"messages.{i}.content.{j}", block, open_calls, j < len(results)
            )
            if problem is not None:
                return problem
        # §4.3 rule 4: with thinking on, the turn carrying the live tool calls opens with thinking.
        if thinking_on and i == live_turn:
            first = blocks[0].get("type") if blocks and isinstance(blocks[0], dict) else None
            if first not in ("thinking", "redacted_thinking"):
                return (
                    f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                    f"but found `{first}`. When `thinking` is enabled, a final `assistant` message "
                    "must start with a thinking block."
                )
        open_calls = {
            str(b.get("id"))
            for b in blocks
            if role == "assistant" and isinstance(b, dict) and b.get("type") == "tool_use"
        }
        previous_role = role
    return None


def claude(body: dict[str, Any], *, count_tokens: bool = False) -> str | None:
    """Anthropic Messages (§4.2-§4.4); count_tokens takes no max_tokens (§4.9)."""
    if not isinstance(body.get("model"), str):
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if not count_tokens and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list):
        return "messages: Field required"
    thinking = body.get("thinking")
    thinking_on = isinstance(thinking, dict) and thinking.get("type") == "enabled"
    if thinking_on:
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if isinstance(max_tokens, int) and budget >= max_tokens:
            return "`max_tokens` must be greater than `thinking.budget_tokens`."
        choice = body.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
            return "Thinking may not be enabled when tool_choice forces tool use."
    adaptive = isinstance(thinking, dict) and thinking.get("type") == "adaptive"
    return _claude_turns(messages, thinking_on or adaptive)


def _pick(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """Gemini accepts snake_case aliases on input (§5.1)."""
    return obj.get(camel, obj.get(snake))


def gemini(body: dict[str, Any], action: str) -> str | None:
    """Gemini generateContent / countTokens (§5.2)."""
    if action == "countTokens" and isinstance(body.get("generateContentRequest"), dict):
        body = body["generateContentRequest"]
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified\n"
    config = _pick(body, "generationConfig", "generation_config") or {}
    thinking = _pick(config, "thinkingConfig", "thinking_config") or {}
    level = _pick(thinking, "thinkingLevel", "thinking_level")
    if _pick(thinking, "thinkingBudget", "thinking_budget") is not None and level is not None:
        return "Thinking budget and thinking level cannot both be set."
    calls_before = 0
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            return f"Invalid value at 'contents[{i}]': expected a Content object."
        if content.get("role", "user") not in ("user", "model"):
            return "Please use a valid role: user, model."
        parts = content.get("parts")
        parts = parts if isinstance(parts, list) else []
        answers = 0
        for j, part in enumerate(parts):
            if not isinstance(part, dict):
                return f"Invalid value at 'contents[{i}].parts[{j}]': expected a Part object."
            response = _pick(part, "functionResponse", "function_response")
            if response is None:
                continue
            answers += 1
            where = f"contents[{i}].parts[{j}].function_response"
            if not isinstance(response, dict) or not response.get("name"):
                return f"* GenerateContentRequest.{where}.name: Name cannot be empty.\n"
            if "response" in response and not isinstance(response["response"], dict):
                struct = "type.googleapis.com/google.protobuf.Struct"
                return f"Invalid value at '{where}.response' ({struct})"
        # §5.2: a model turn's function calls are answered by as many responses in the next turn.
        if calls_before and answers != calls_before:
            return (
                "Please ensure that the number of function response parts is equal to the number "
                "of function call parts of the function call turn."
            )
        calls_before = sum(_pick(p, "functionCall", "function_call") is not None for p in parts)
    return None


def openai_embeddings(body: dict[str, Any]) -> str | None:
    """OpenAI embeddings (§3)."""
    if not isinstance(body.get("model"), str):
        return "you must provide a model parameter"
    if body.get("encoding_format", "float") not in ("float", "base64"):
        return "Invalid value for 'encoding_format': expected 'float' or 'base64'."
    dimensions = body.get("dimensions")
    if dimensions is not None and (not isinstance(dimensions, int) or not 1 <= dimensions <= 4096):
        return "Invalid value for 'dimensions'."
    return None
