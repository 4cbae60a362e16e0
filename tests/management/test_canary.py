"""No management answer ever carries a secret: canaries in every secret place, every route read."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import yaml

from tests.management.support import chat, mgmt
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory

pytestmark = pytest.mark.e2e


def canary(kind: str) -> str:
    return f"canary-{kind}-{uuid.uuid4().hex}"


READS = [
    "/config",
    "/config.yaml",
    "/debug",
    "/proxy-url",
    "/api-keys",
    "/gemini-api-key",
    "/claude-api-key",
    "/codex-api-key",
    "/vertex-api-key",
    "/openai-compatibility",
    "/oauth-excluded-models",
    "/oauth-model-alias",
    "/auth-files",
    "/auth-files/models?name=claude-canary.json",
    "/usage",
    "/usage/export",
    "/api-key-usage",
    "/logs",
    "/request-error-logs",
    "/models",
    "/auths",
]


@pytest.mark.invariant(2)
def test_no_secret_in_any_management_answer(
    fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> None:
    secret, password = canary("mgmt"), canary("envpw")
    upstream, claude, header = canary("upstream"), canary("claude"), canary("header")
    proxy_password, token = canary("proxypw"), canary("token")
    client_key = f"sk-{canary('client')}"
    document = {
        "host": "127.0.0.1",
        "port": "{port}",
        "auth-dir": "{auth_dir}",
        "logging-to-file": True,
        "api-keys": [client_key],
        "remote-management": {"secret-key": secret},
        "openai-compatibility": [
            {
                "name": "up",
                "base-url": fake_upstream.base_url,
                "headers": {"X-Upstream-Auth": header},
                "api-key-entries": [{"api-key": upstream}],
                "models": [{"name": "m1"}],
            }
        ],
        "claude-api-key": [
            {
                "api-key": claude,
                "base-url": fake_upstream.root_url,
                "proxy-url": f"http://user:{proxy_password}@127.0.0.1:9",
            }
        ],
    }
    text = yaml.safe_dump(document, sort_keys=False).replace("'{port}'", "{port}")
    gateway = start_gateway(text, env={"MANAGEMENT_PASSWORD": password})
    record = {"type": "claude", "email": "c@d.com", "access_token": token, "refresh_token": token}
    (gateway.auth_dir / "claude-canary.json").write_text(json.dumps(record))
    secrets = [secret, password, upstream, claude, header, proxy_password, token, client_key]
    assert chat(gateway, client_key).status_code == 200

    answers: list[str] = []

    def keep(response: httpx.Response) -> httpx.Response:
        answers.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response

    with mgmt(gateway, key=password) as client:
        for route in READS:
            assert keep(client.get(route)).status_code == 200, route
        # Errors too: a refused change that names a secret, a wrong key.
        bad = [{"api-key": claude, "base-url": "ftp://nope"}]
        assert keep(client.put("/claude-api-key", json=bad)).status_code == 422
        keep(client.put("/config.yaml", content=f"api-keys: [{client_key}]\nnope: {secret}\n"))
        keep(client.get("/debug", headers={"Authorization": f"Bearer {upstream}"}))
        keep(client.post("/usage/import", content=b"{}"))
        # A listing sent back unchanged keeps every secret working.
        listed = client.get("/openai-compatibility").json()["openai-compatibility"]
        assert client.put("/openai-compatibility", json=listed).is_success
        download = client.get("/auth-files/download", params={"name": "claude-canary.json"})
        assert token in download.text  # handing the record over is the download's job
    with mgmt(gateway, key=secret) as client:  # the configured (now hashed) secret works too
        assert keep(client.get("/config")).status_code == 200
    assert chat(gateway, client_key).status_code == 200
    assert fake_upstream.requests[-1].headers["x-upstream-auth"] == header

    for answer in answers:
        for value in secrets:
            assert value not in answer
        assert "$2b$" not in answer
        assert "$2a$" not in answer
    stored = gateway.config_path.read_text()
    assert secret not in stored
    assert "$2b$" in stored
    log = gateway.log_text()
    for value in secrets:
        assert value not in log
