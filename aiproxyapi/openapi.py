"""OpenAPI 3.1 documents of the two APIs, built from the routes the app really serves.

The paths and methods come from the running app's route table, so a document never lists a
route that does not exist nor misses one that does. What the route table cannot say (request
bodies, query parameters, error shapes) comes from the tables here: bodies for the client
dialects close enough to their specs that a schema-driven fuzzer builds requests that reach
the relay, and each dialect's error shape for every 4xx and 5xx answer.

Two documents, each behind its API's own key: the client API's (the proxy routes, served at
`/v1/openapi.json` to a caller with a client key) and the management API's (served at
`/v0/management/openapi.json` behind the management guard), so route details of management
never reach a caller without the management secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

__all__ = ["CLIENT_SCHEMA_PATH", "MANAGEMENT_SCHEMA_PATH", "openapi_document"]

CLIENT_SCHEMA_PATH = "/v1/openapi.json"
MANAGEMENT_SCHEMA_PATH = "/v0/management/openapi.json"

_MANAGEMENT = "/v0/management"
# Browser pages and files, not API operations.
_NOT_API = ("/panel", "/management.html")
_METHODS = ("get", "put", "post", "patch", "delete")

Api = Literal["client", "management"]

_TEXT = {"type": "string"}
_ANY: dict[str, Any] = {}
# The documents name the model every test config routes, so fuzzed requests reach the relay;
# an operator's real names are in GET /v1/models.
_MODEL = {"type": "string", "examples": ["m1"], "enum": ["m1"]}
_PARTS = {"type": "array", "items": {"type": "object"}}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_CHAT_MESSAGE = _obj(
    ["role"],
    role={"enum": ["system", "developer", "user", "assistant", "tool"]},
    content={"anyOf": [_TEXT, _PARTS, {"type": "null"}]},
)
_CLAUDE_MESSAGE = _obj(
    ["role", "content"], role={"enum": ["user", "assistant"]}, content={"anyOf": [_TEXT, _PARTS]}
)
_GEMINI_CONTENT = _obj(
    ["parts"],
    role={"enum": ["user", "model"]},
    parts={"type": "array", "items": _obj([], text=_TEXT)},
)
_SAMPLING = {
    "stream": {"type": "boolean"},
    "max_tokens": {"type": "integer", "minimum": 1},
    "temperature": {"type": "number"},
}

# path -> request body schema, for the client routes that take one.
_CLIENT_BODIES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": _obj(
        ["model", "messages"],
        model=_MODEL,
        messages={"type": "array", "minItems": 1, "items": _CHAT_MESSAGE},
        **_SAMPLING,
    ),
    "/v1/completions": _obj(
        ["model", "prompt"], model=_MODEL, prompt={"anyOf": [_TEXT, {"type": "array"}]}, **_SAMPLING
    ),
    "/v1/embeddings": _obj(["model", "input"], model=_MODEL, input={"anyOf": [_TEXT, _PARTS]}),
    "/v1/responses": _obj(
        ["model", "input"],
        model=_MODEL,
        input={"anyOf": [_TEXT, _PARTS]},
        instructions=_TEXT,
        stream={"type": "boolean"},
        max_output_tokens={"type": "integer", "minimum": 1},
    ),
    "/v1/messages": _obj(
        ["model", "messages", "max_tokens"],
        model=_MODEL,
        messages={"type": "array", "items": _CLAUDE_MESSAGE},
        system={"anyOf": [_TEXT, _PARTS]},
        **_SAMPLING,
    ),
    "/v1/messages/count_tokens": _obj(
        ["model", "messages"], model=_MODEL, messages={"type": "array", "items": _CLAUDE_MESSAGE}
    ),
    "/v1beta/models/{target}": _obj(
        ["contents"],
        contents={"type": "array", "items": _GEMINI_CONTENT},
        systemInstruction=_obj([], parts=_PARTS),
        generationConfig={"type": "object"},
    ),
}

# A path parameter's schema where plain strings would rarely name something real.
_PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "target": {"enum": ["m1:generateContent", "m1:streamGenerateContent", "m1:countTokens"]},
}

# (path, method) -> query parameters the handler reads.
_QUERIES: dict[tuple[str, str], list[str]] = {
    ("/healthz", "get"): ["verbose"],
    ("/usage", "get"): ["from", "to", "format"],
    ("/v1beta/models/{target}", "post"): ["alt"],
    ("/v0/management/auth-files", "post"): ["name"],
    ("/v0/management/auth-files", "delete"): ["name", "all"],
    ("/v0/management/auth-files/download", "get"): ["name"],
    ("/v0/management/auth-files/models", "get"): ["name", "auth_index"],
    ("/v0/management/logs", "get"): ["after", "limit"],
    ("/v0/management/oauth-excluded-models", "delete"): ["provider", "channel"],
    ("/v0/management/oauth-model-alias", "delete"): ["provider", "channel"],
}

_OPENAI_ERROR = _obj(["error"], error=_obj(["message", "type"], message=_TEXT, type=_TEXT))
_CLAUDE_ERROR = _obj(
    ["type", "error"],
    type={"const": "error"},
    error=_obj(["type", "message"], type=_TEXT, message=_TEXT),
)
_GEMINI_ERROR = _obj(
    ["error"],
    error=_obj(
        ["code", "message", "status"], code={"type": "integer"}, message=_TEXT, status=_TEXT
    ),
)
_MANAGEMENT_ERROR = _obj(["error"], error=_TEXT)


def _error_schema(path: str) -> dict[str, Any]:
    if path.startswith(_MANAGEMENT):
        return _MANAGEMENT_ERROR
    if path.startswith("/v1/messages"):
        return _CLAUDE_ERROR
    if path.startswith("/v1beta"):
        return _GEMINI_ERROR
    return _OPENAI_ERROR


def _template(path: str) -> tuple[str, list[str]]:
    """Litestar's `/a/{name:str}` as OpenAPI's `/a/{name}`, with the parameter names."""
    names = re.findall(r"{(\w+)(?::\w+)?}", path)
    return re.sub(r"{(\w+)(?::\w+)?}", r"{\1}", path), names


def _operation(path: str, method: str, params: list[str]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _PATH_PARAMETERS.get(name, _TEXT),
        }
        for name in params
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": _TEXT}
        for name in _QUERIES.get((path, method), [])
    ]
    error = {"application/json": {"schema": _error_schema(path)}}
    operation: dict[str, Any] = {
        "operationId": f"{method}{re.sub(r'[^A-Za-z0-9]+', '_', path)}",
        "parameters": parameters,
        "responses": {
            # Success bodies differ by route (JSON, SSE, YAML, CSV); errors have one shape.
            "2XX": {"description": "success", "content": {"*/*": {"schema": _ANY}}},
            "4XX": {"description": "the caller's mistake", "content": error},
            "5XX": {"description": "an upstream or gateway failure", "content": error},
        },
    }
    if method in ("post", "put", "patch"):
        operation["requestBody"] = _body(path)
    return operation


def _body(path: str) -> dict[str, Any]:
    if path == f"{_MANAGEMENT}/config.yaml":
        return {"content": {"application/yaml": {"schema": _TEXT}}}
    schema = _CLIENT_BODIES.get(path, _ANY)
    return {"required": path in _CLIENT_BODIES, "content": {"application/json": {"schema": schema}}}


def _belongs(path: str, api: Api) -> bool:
    if path.startswith(_NOT_API):
        return False
    return path.startswith(_MANAGEMENT) == (api == "management")


def openapi_document(routes: Iterable[tuple[str, Iterable[str]]], api: Api) -> dict[str, Any]:
    """The OpenAPI document of one API, from (path, methods) pairs of the app's route table."""
    paths: dict[str, dict[str, Any]] = {}
    for raw_path, methods in routes:
        if not _belongs(raw_path, api):
            continue
        path, params = _template(raw_path)
        for method in sorted(m.lower() for m in methods):
            if method in _METHODS:
                paths.setdefault(path, {})[method] = _operation(path, method, params)
    scheme = "managementKey" if api == "management" else "clientKey"
    return {
        "openapi": "3.1.0",
        "info": {"title": f"aiproxyapi {api} API", "version": "1"},
        "paths": dict(sorted(paths.items())),
        "components": {"securitySchemes": {scheme: {"type": "http", "scheme": "bearer"}}},
        "security": [{scheme: []}],
    }
