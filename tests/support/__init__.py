"""Shared end-to-end test infrastructure: fake upstreams, the gateway subprocess harness, fixtures.

Modules: ``fake_upstream`` (a scriptable HTTP server on 127.0.0.1 speaking OpenAI Chat and
Responses, the Codex backend, Anthropic Messages and Gemini), ``replies`` (its ``Reply`` script
steps, ``ToolCall`` and ``RecordedRequest`` records), the wire modules ``openai_wire``,
``responses_wire``, ``claude_wire``, ``gemini_wire`` and ``embeddings_wire`` (bodies and stream
events as each real API writes them, for the fake and for assertions), ``fake_oauth`` (a fake
authorization server for every login provider: authorize, token, device-code, account and
Copilot token endpoints), ``dialect_requests`` (a minimal valid request per dialect), ``gateway`` (run the real gateway as a subprocess) and
``fixtures`` (pytest fixtures; load with ``pytest_plugins``). Import from the modules, e.g.
``from tests.support.fake_upstream import FakeUpstream, Reply, ToolCall``.
"""
