"""Shared end-to-end test infrastructure: fake upstreams, the gateway subprocess harness, fixtures.

Modules: ``fake_upstream`` (scriptable OpenAI-compatible HTTP server on 127.0.0.1), ``replies``
(its ``Reply`` script steps and ``RecordedRequest`` records), ``openai_wire`` (Chat Completions
bodies and SSE helpers), ``gateway`` (run the real gateway as a subprocess) and ``fixtures``
(pytest fixtures; load with ``pytest_plugins``). Import from the modules, e.g.
``from tests.support.fake_upstream import FakeUpstream, Reply``.
"""
