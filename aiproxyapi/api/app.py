"""Assemble the Litestar application around a gateway."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from aiproxyapi.api.claude import count_message_tokens, messages
from aiproxyapi.api.completions import completions, embeddings
from aiproxyapi.api.conversation import (
    clear_conversation,
    clear_default_conversation,
    show_conversation,
    show_default_conversation,
)
from aiproxyapi.api.errors import render_gateway_error, render_http_exception, render_unexpected
from aiproxyapi.api.gemini import gemini_model, gemini_models, gemini_post
from aiproxyapi.api.metrics import metrics
from aiproxyapi.api.openai import chat_completions, list_models
from aiproxyapi.api.panel import panel_asset, panel_page
from aiproxyapi.api.responses import create_response
from aiproxyapi.api.schema import client_schema
from aiproxyapi.api.system import banner, health, health_head, usage
from aiproxyapi.errors import GatewayError
from aiproxyapi.gateway import Gateway
from aiproxyapi.management import ManagementContext, management_router

__all__ = ["create_app"]


def create_app(gateway: Gateway) -> Litestar:
    """The ASGI app serving one gateway; starting it starts the gateway's background work."""
    management = ManagementContext(gateway)
    return Litestar(
        route_handlers=[
            banner,
            health,
            health_head,
            usage,
            metrics,
            list_models,
            client_schema,
            chat_completions,
            completions,
            embeddings,
            create_response,
            messages,
            count_message_tokens,
            gemini_models,
            gemini_model,
            gemini_post,
            panel_page,
            panel_asset,
            management_router(management),
            show_default_conversation,
            show_conversation,
            clear_default_conversation,
            clear_conversation,
        ],
        exception_handlers={
            GatewayError: render_gateway_error,
            HTTPException: render_http_exception,
            Exception: render_unexpected,
        },
        on_startup=[gateway.start, management.start],
        on_shutdown=[management.stop, gateway.stop],
        state=_state(gateway),
        openapi_config=None,
        logging_config=None,
        # The proxy routes enforce the configured limit themselves, so a reload can change it.
        request_max_body_size=None,
    )


def _state(gateway: Gateway) -> State:
    return State({"gateway": gateway})
