"""Schema-driven fuzzing of both APIs with schemathesis (reliability plan B1).

The documents come from the gateway itself (`/v1/openapi.json` and
`/v0/management/openapi.json`), so every route it serves is fuzzed. For each operation,
schemathesis generates requests that fit the schema and requests that break it; every answer
must be under 500, in the documented error shape of its API (`response_schema_conformance`),
with a documented status and content type, and in time. The example counts follow
AIPROXYAPI_TEST_PROFILE (tests/support/hardening.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.management.support import SECRET, mgmt_config
from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess
from tests.support.hardening import LONG, examples

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(7200 if LONG else 600)]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SLOW_SECONDS = 5.0

# Management routes that start an OAuth login reach a provider's servers: never fuzzed here
# (tests/management/test_oauth_logins.py drives them against local fakes).
OUTBOUND = ("-auth-url", "/oauth-callback", "/oauth-session", "/get-auth-status")


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


def start(config: str, home: Any) -> GatewayProcess:
    return GatewayProcess(config, tmp_path=home, startup_timeout=40.0).start()


def fuzz(
    document: dict[str, Any],
    base_url: str,
    headers: dict[str, str],
    *,
    count: int,
    skip: tuple[str, ...] = (),
    last: tuple[str, ...] = (),
) -> list[str]:
    """Run every operation of `document` against `base_url`; the failures, one line each."""
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if not any(part in op.path for part in skip)]
    # Operations that can change what the rest see (a new config) run after the others.
    operations.sort(key=lambda op: any(op.label == label for label in last))
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=count,
                database=None,
                suppress_health_check=list(HealthCheck),
                deadline=None,
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                started = time.monotonic()
                response = case.call(base_url=base_url, headers=headers, timeout=SLOW_SECONDS * 2)
                elapsed = time.monotonic() - started
                assert elapsed < SLOW_SECONDS, (
                    f"{case.method} {case.formatted_path}: {elapsed:.1f}s"
                )
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Exception as exc:
                first = str(exc).strip().splitlines()[:6]
                failures.append(f"{operation.label} [{mode.value}]: {' | '.join(first)}")
    return failures


def test_the_client_api_survives_schema_fuzzing(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    config = gateway_config(openai_entry("up", upstream.base_url, ["sk-a"]), **{"request-retry": 0})
    gateway = start(config, tmp_path_factory.mktemp("fuzz-client"))
    try:
        auth = {"authorization": f"Bearer {CLIENT_KEY}"}
        document = httpx.get(f"{gateway.base_url}/v1/openapi.json", headers=auth).json()
        assert "/v1/chat/completions" in document["paths"]
        assert not any(path.startswith("/v0/management") for path in document["paths"])
        failures = fuzz(document, gateway.base_url, auth, count=examples(5))
        assert failures == [], "\n".join(failures)
        assert httpx.get(f"{gateway.base_url}/healthz").status_code == 200
        assert "Traceback" not in gateway.log_text()
    finally:
        gateway.stop()


def test_the_management_api_survives_schema_fuzzing(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    gateway = start(mgmt_config(upstream.base_url), tmp_path_factory.mktemp("fuzz-mgmt"))
    try:
        auth = {"authorization": f"Bearer {SECRET}"}
        document = httpx.get(f"{gateway.base_url}/v0/management/openapi.json", headers=auth).json()
        assert "/v0/management/auth-files" in document["paths"]
        assert "/v1/chat/completions" not in document["paths"]
        failures = fuzz(
            document,
            gateway.base_url,
            auth,
            count=examples(2),
            skip=OUTBOUND,
            last=("PUT /v0/management/config.yaml",),
        )
        assert failures == [], "\n".join(failures)
        assert "Traceback" not in gateway.log_text()
    finally:
        gateway.stop()


def test_each_document_needs_its_own_key(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    gateway = start(mgmt_config(upstream.base_url), tmp_path_factory.mktemp("fuzz-keys"))
    try:
        base = gateway.base_url
        assert httpx.get(f"{base}/v1/openapi.json").status_code == 401
        assert httpx.get(f"{base}/v0/management/openapi.json").status_code == 401
        client = {"authorization": f"Bearer {CLIENT_KEY}"}
        # A client key shows the client API only; the management routes stay unlisted to it.
        assert httpx.get(f"{base}/v0/management/openapi.json", headers=client).status_code == 401
        listed = httpx.get(f"{base}/v1/openapi.json", headers=client).json()["paths"]
        assert all(not path.startswith("/v0/") for path in listed)
    finally:
        gateway.stop()
