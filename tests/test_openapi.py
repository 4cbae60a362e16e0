"""The OpenAPI documents list exactly the routes the app serves, split by API."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiproxyapi.api.app import create_app
from aiproxyapi.config import parse_config
from aiproxyapi.gateway import Gateway
from aiproxyapi.openapi import openapi_document

# Building the app in this process meets the Gemini routes' inferred path parameters, which
# Litestar deprecates (as in tests/ops/test_embed.py).
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*declared using deprecated inferred style:DeprecationWarning"
)


@pytest.fixture
def routes(tmp_path: Path) -> list[tuple[str, set[str]]]:
    loaded = parse_config(f"port: 1\nauth-dir: {tmp_path}\napi-keys: [sk-client-openapi-1]\n")
    app = create_app(Gateway(loaded, None))
    return [(route.path, set(route.methods)) for route in app.routes]


def operations(document: dict[str, object]) -> set[tuple[str, str]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return {(path, method) for path, ops in paths.items() for method in ops}


def test_every_api_route_is_in_exactly_one_document(routes: list[tuple[str, set[str]]]) -> None:
    client = operations(openapi_document(routes, "client"))
    management = operations(openapi_document(routes, "management"))
    assert not client & management
    served = {
        (path.replace(":str", "").replace(":path", ""), method.lower())
        for path, methods in routes
        for method in methods - {"OPTIONS", "HEAD"}
        if not path.startswith(("/panel", "/management.html"))
    }
    assert client | management == served
    assert all(path.startswith("/v0/management") for path, _ in management)
    assert ("/v1/chat/completions", "post") in client
    assert ("/v1beta/models/{target}", "post") in client
    assert ("/v0/management/auth-files", "delete") in management
    assert ("/v0/management/openapi.json", "get") in management


def test_bodies_and_parameters_are_described(routes: list[tuple[str, set[str]]]) -> None:
    document = openapi_document(routes, "client")
    chat = document["paths"]["/v1/chat/completions"]["post"]
    schema = chat["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["model", "messages"]
    gemini = document["paths"]["/v1beta/models/{target}"]["post"]
    assert [p["name"] for p in gemini["parameters"] if p["in"] == "path"] == ["target"]
    errors = chat["responses"]["4XX"]["content"]["application/json"]["schema"]
    assert errors["required"] == ["error"]
    claude = document["paths"]["/v1/messages"]["post"]["responses"]["4XX"]
    assert claude["content"]["application/json"]["schema"]["required"] == ["type", "error"]
