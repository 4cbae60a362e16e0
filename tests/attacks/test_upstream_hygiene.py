"""A8-A10: clients cannot steer upstream calls, headers stay on their own hop, keys stay apart."""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from aiproxyapi.secret import fingerprint
from tests.attacks._listener import CanaryListener
from tests.attacks.conftest import Canaries, canary
from tests.support.configs import gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess
from tests.support.replies import Reply

CHAT = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def canary_listener() -> Iterator[CanaryListener]:
    listener = CanaryListener()
    yield listener
    listener.close()


def _everything(upstream: FakeUpstream) -> list[str]:
    return [
        f"{r.method} {r.path}?{r.query} {r.headers} {r.body.decode(errors='replace')}"
        for r in upstream.requests
    ]


@pytest.mark.invariant(1)
def test_client_supplied_upstream_overrides_are_ignored(
    attack_gateway: GatewayProcess,
    attack_upstream: FakeUpstream,
    canaries: Canaries,
    canary_listener: CanaryListener,
) -> None:
    elsewhere = f"http://127.0.0.1:{canary_listener.port}"
    overrides = {
        "api_base": elsewhere,
        "base_url": elsewhere,
        "custom_host": elsewhere,
        "proxy": elsewhere,
        "api_key": "sk-client-chosen",
        "extra_body": {"api_base": elsewhere},
    }
    headers = {
        "authorization": f"Bearer {canaries.client}",
        "x-portkey-custom-host": elsewhere,
        "x-custom-host": elsewhere,
        "x-litellm-api-base": elsewhere,
        "x-base-url": elsewhere,
    }
    attack_upstream.clear()
    for path, body in (
        ("/v1/chat/completions", {**CHAT, **overrides}),
        ("/v1/chat/completions", {**CHAT, **overrides, "stream": True}),
        ("/v1/messages", {**CHAT, "max_tokens": 16, **overrides}),
        ("/v1/responses", {"model": "m1", "input": "hi", **overrides}),
    ):
        answer = httpx.post(
            f"{attack_gateway.base_url}{path}", json=body, headers=headers, timeout=15
        )
        assert answer.status_code in {200, 400}, (path, answer.text)
    assert canary_listener.connections == 0
    assert len(attack_upstream.requests) >= 3
    for request in attack_upstream.requests:
        assert request.key in canaries.upstream  # the operator's key, not the client's choice


HOP_BY_HOP_IN = {
    "connection": "keep-alive, X-Foo",
    "x-foo": "hop-only",
    "keep-alive": "timeout=5",
    "proxy-connection": "keep-alive",
    "te": "trailers",
    "upgrade": "h2c",
    "proxy-authorization": "Basic c2VjcmV0LXByb3h5OnBhc3M=",
    "cookie": "session=cookie-canary-7f1e",
    "x-forwarded-for": "198.51.100.23",
    "x-real-ip": "198.51.100.23",
    "forwarded": "for=198.51.100.23",
}


@pytest.mark.invariant(3)
def test_upstream_sees_only_the_credential_and_no_client_hop_headers(
    attack_gateway: GatewayProcess, attack_upstream: FakeUpstream, canaries: Canaries
) -> None:
    attack_upstream.clear()
    for stream in (False, True):
        answer = httpx.post(
            f"{attack_gateway.base_url}/v1/chat/completions",
            json={**CHAT, "stream": stream},
            headers={
                **HOP_BY_HOP_IN,
                "authorization": f"Bearer {canaries.client}",
                "x-api-key": canaries.client,
                "x-goog-api-key": canaries.other_client,
            },
            timeout=15,
        )
        assert answer.status_code == 200, answer.text
    # The same through the Claude dialect, whose key travels as x-api-key.
    claude = httpx.post(
        f"{attack_gateway.base_url}/v1/messages",
        json={**CHAT, "max_tokens": 16},
        headers={**HOP_BY_HOP_IN, "x-api-key": canaries.client},
        timeout=15,
    )
    assert claude.status_code == 200, claude.text
    assert len(attack_upstream.requests) == 3
    for request, text in zip(attack_upstream.requests, _everything(attack_upstream), strict=True):
        headers = {name.lower(): value for name, value in request.headers.items()}
        assert headers["authorization"] == f"Bearer {request.key}"
        assert request.key in canaries.upstream
        assert canaries.client not in text
        assert canaries.other_client not in text
        for name in ("x-foo", "keep-alive", "proxy-connection", "te", "upgrade", "cookie"):
            assert name not in headers, name
        for name in ("proxy-authorization", "x-forwarded-for", "x-real-ip", "forwarded"):
            assert name not in headers, name
        assert "x-foo" not in headers.get("connection", "").lower()
        assert "198.51.100.23" not in text
        assert "cookie-canary" not in text


@pytest.mark.invariant(3, 2)
def test_clients_get_no_upstream_cookies_or_hop_headers(
    attack_gateway: GatewayProcess, attack_upstream: FakeUpstream, canaries: Canaries
) -> None:
    secret_header = canary("upstream-header")
    sent = {
        "set-cookie": "upstream-session=cookie-canary-9a; HttpOnly",
        "x-upstream-internal": secret_header,
        "proxy-authenticate": "Basic realm=up",
        "keep-alive": "timeout=99",
        "upgrade": "h2c",
        "x-bar": "hop",
        "connection": "keep-alive, x-bar",
    }
    for stream in (False, True):
        for key in canaries.upstream:
            attack_upstream.script(Reply.ok("hi", headers=sent), key=key)
        answer = httpx.post(
            f"{attack_gateway.base_url}/v1/chat/completions",
            json={**CHAT, "stream": stream},
            headers={"authorization": f"Bearer {canaries.client}"},
            timeout=15,
        )
        attack_upstream.clear(scripts=True)
        assert answer.status_code == 200
        received = {name.lower() for name in answer.headers}
        for name in ("set-cookie", "proxy-authenticate", "keep-alive", "upgrade", "x-bar"):
            assert name not in received, name
        assert "x-bar" not in answer.headers.get("connection", "")
        assert secret_header not in str(answer.headers)
        assert "cookie-canary" not in str(answer.headers)


# A10: many credentials, many requests, keys that upstream errors echo.


@pytest.mark.invariant(1, 2)
def test_twenty_credentials_never_cross_and_echoed_keys_never_reach_clients(
    make_upstream: object, tmp_path: Path
) -> None:
    upstream: FakeUpstream = make_upstream()  # type: ignore[operator]
    keys = [canary(f"iso{i:02d}") for i in range(20)]
    client_key = canary("iso-client")
    config = gateway_config(
        openai_entry("up", upstream.base_url, keys),
        api_keys=[client_key],
        **{"usage-statistics-enabled": True, "request-retry": 1},
    )
    rng = random.Random(11)
    # Some accounts answer with errors that carry their own key, as real providers partly do.
    failing = rng.sample(keys, 6)
    for key in failing:
        upstream.set_default(Reply.echo_key(rng.choice([400, 401, 429, 500])), key=key)
    answers: list[str] = []
    with GatewayProcess(config, tmp_path=tmp_path, startup_timeout=40.0) as gateway:
        url = f"{gateway.base_url}/v1/chat/completions"

        def send(n: int, client: httpx.Client) -> str:
            body = {**CHAT, "stream": n % 3 == 0}
            response = client.post(
                url, json=body, headers={"authorization": f"Bearer {client_key}"}
            )
            return f"{response.status_code} {response.headers} {response.text}"

        with httpx.Client(timeout=30, trust_env=False) as client, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(send, range(1200), itertools.repeat(client)))
        usage = httpx.get(f"{gateway.base_url}/usage", timeout=15).json()
    assert len(upstream.requests) >= 1200
    for request in upstream.requests:
        text = f"{request.path}?{request.query} {request.headers} {request.body!r}"
        carried = [key for key in keys if key in text]
        assert carried == [request.key], carried
    for answer in answers:
        for key in [*keys, client_key]:
            assert key not in answer, answer[:300]
    assert Counter(a.split(" ", 1)[0] for a in answers)["200"] > 600
    by_credential = usage["usage"]["by_credential"]
    served = Counter(r.key for r in upstream.requests)
    # Each request's usage record names the credential whose key the upstream saw: for the
    # healthy accounts the counts match exactly (a failed attempt that failed over is no
    # request of the failing account's).
    for key in keys:
        tally = by_credential.get(f"up/key-{fingerprint(key)}", {"requests": 0})
        if key in failing:
            assert tally["requests"] <= served[key]
        else:
            assert tally["requests"] == served[key] > 0, (key[:20], tally, served[key])
    assert json.dumps(usage).count("sk-canary") == 0
