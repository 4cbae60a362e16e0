"""Config changes through the management API: validated, written with comments, live at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml

from tests.management.support import UPSTREAM_KEY, chat, mgmt, mgmt_config
from tests.support.configs import CLIENT_KEY
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

NEW_KEY = "sk-client-added-by-mgmt-19e0"
COMMENT = "# the test config"


def on_disk(gateway: GatewayProcess) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(gateway.config_path.read_text())
    return data


SCALARS: list[tuple[str, Any, Any]] = [
    ("debug", False, True),
    ("logging-to-file", False, True),
    ("usage-statistics-enabled", False, True),
    ("request-retry", 3, 1),
    ("max-retry-credentials", 0, 2),
    ("max-retry-interval", 30, 5),
    ("disable-cooling", False, True),
    ("routing/strategy", "round-robin", "fill-first"),
    ("proxy-url", "", "http://127.0.0.1:9/"),
    ("quota-exceeded/switch-project", True, False),
    ("quota-exceeded/switch-preview-model", True, False),
]


def test_every_scalar_setting_reads_and_changes(shared_gateway: GatewayProcess) -> None:
    with mgmt(shared_gateway) as client:
        for route, default, new in SCALARS:
            label = route.split("/")[-1]
            assert client.get(f"/{route}").json() == {label: default}, route
            method = client.put if isinstance(new, bool) else client.patch
            assert method(f"/{route}", json={"value": new}).json() == {"status": "ok"}, route
            assert client.get(f"/{route}").json() == {label: new}, route
            node: Any = on_disk(shared_gateway)
            for key in route.split("/"):
                node = node[key]
            assert node == new, route
        assert COMMENT in shared_gateway.config_path.read_text()
        assert client.delete("/proxy-url").json() == {"status": "ok"}
        assert client.get("/proxy-url").json() == {"proxy-url": ""}
        for route, default, _new in SCALARS:
            client.put(f"/{route}", json={"value": default})
    # The upstream is still served after all this (proxy-url was removed again).
    assert chat(shared_gateway).status_code == 200


@pytest.mark.parametrize(
    ("route", "body", "status"),
    [
        ("debug", {"value": "yes"}, 400),
        ("debug", {"nothing": True}, 400),
        ("request-retry", {"value": True}, 400),
        ("request-retry", {"value": -1}, 422),
        ("routing/strategy", {"value": "random"}, 422),
        ("proxy-url", {"value": 5}, 400),
    ],
)
def test_bad_values_change_nothing(
    shared_gateway: GatewayProcess, route: str, body: dict[str, Any], status: int
) -> None:
    before = shared_gateway.config_path.read_bytes()
    with mgmt(shared_gateway) as client:
        response = client.put(f"/{route}", json=body)
        assert response.status_code == status
        assert "error" in response.json()
        if status == 422:
            assert response.json()["error"] == "invalid_config"
            path = response.json()["path"]
            assert path
            assert route.replace("/", ".").startswith(path)
    assert shared_gateway.config_path.read_bytes() == before


def test_a_new_client_key_works_as_soon_as_the_call_returns(
    fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> None:
    gateway = start_gateway(mgmt_config(fake_upstream.base_url))
    assert chat(gateway, NEW_KEY).status_code == 401
    with mgmt(gateway) as client:
        listed = client.get("/api-keys").json()["api-keys"]
        assert listed == ["sk-c...5b1d"]
        assert client.put("/api-keys", json={"items": [*listed, NEW_KEY]}).is_success
        assert chat(gateway, NEW_KEY).status_code == 200
        assert chat(gateway, CLIENT_KEY).status_code == 200  # the masked key stood for itself
        assert on_disk(gateway)["api-keys"] == [CLIENT_KEY, NEW_KEY]
        assert client.patch(
            "/api-keys", json={"old": NEW_KEY, "new": "sk-renamed-key-0042"}
        ).is_success
        assert chat(gateway, NEW_KEY).status_code == 401
        assert chat(gateway, "sk-renamed-key-0042").status_code == 200
        assert client.patch("/api-keys", json={"index": 1, "value": NEW_KEY}).is_success
        assert on_disk(gateway)["api-keys"] == [CLIENT_KEY, NEW_KEY]
        assert client.patch("/api-keys", json={"index": 7, "value": "x"}).status_code == 404
        assert client.delete("/api-keys", params={"value": NEW_KEY}).is_success
        assert chat(gateway, NEW_KEY).status_code == 401
        assert client.put("/api-keys", json=[CLIENT_KEY, NEW_KEY]).is_success
        assert client.delete("/api-keys", params={"index": "0"}).is_success
        assert on_disk(gateway)["api-keys"] == [NEW_KEY]
        assert client.delete("/api-keys", params={"index": "5"}).status_code == 404
        # The placeholder keys CLIProxyAPI ships are refused, and nothing is written.
        before = gateway.config_path.read_bytes()
        refused = client.put("/api-keys", json=["your-api-key-1"])
        assert refused.status_code == 422
        assert gateway.config_path.read_bytes() == before
    assert COMMENT in gateway.config_path.read_text()


CLAUDE_KEY = "sk-ant-claude-canary-77c1e09a"


def test_provider_lists(fake_upstream: FakeUpstream, start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(mgmt_config(fake_upstream.base_url))
    entry = {"api-key": CLAUDE_KEY, "base-url": fake_upstream.root_url, "models": [{"name": "c1"}]}
    with mgmt(gateway) as client:
        assert client.get("/claude-api-key").json() == {"claude-api-key": []}
        assert client.put("/claude-api-key", json=[entry]).is_success
        listed = client.get("/claude-api-key").json()["claude-api-key"]
        assert listed[0]["api-key"] == "sk-a...e09a"
        assert len(listed[0]["auth-index"]) == 16
        assert CLAUDE_KEY not in client.get("/claude-api-key").text
        second = {"api-key": "sk-ant-second-key-0000001", "base-url": "https://c.example.com"}
        assert client.put("/claude-api-key", json={"items": [*listed, second]}).is_success
        assert on_disk(gateway)["claude-api-key"][0]["api-key"] == CLAUDE_KEY
        patched = client.patch("/claude-api-key", json={"index": 1, "value": {"prefix": "two"}})
        assert patched.is_success
        by_match = {"match": CLAUDE_KEY, "value": {"excluded-models": ["c2"]}}
        assert client.patch("/claude-api-key", json=by_match).is_success
        masked = {"match": "sk-a...e09a", "value": {"priority": 3}}
        assert client.patch("/claude-api-key", json=masked).is_success
        stored = on_disk(gateway)["claude-api-key"]
        assert stored[0]["excluded-models"] == ["c2"]
        assert stored[0]["priority"] == 3
        assert stored[1]["prefix"] == "two"
        assert (
            client.patch("/claude-api-key", json={"match": "nope", "value": {}}).status_code == 404
        )
        bad = {"index": 0, "value": {"base-url": "ftp://nope"}}
        refused = client.patch("/claude-api-key", json=bad)
        assert refused.status_code == 422
        assert refused.json()["path"] == "claude-api-key[0].base-url"
        assert CLAUDE_KEY not in refused.text
        assert client.delete("/claude-api-key", params={"api-key": CLAUDE_KEY}).is_success
        assert client.delete("/claude-api-key", params={"index": 0}).is_success
        assert client.delete("/claude-api-key", params={"index": 0}).status_code == 404
        assert on_disk(gateway)["claude-api-key"] == []

        # openai-compatibility: the listing sent back keeps the real upstream key.
        compat = client.get("/openai-compatibility").json()["openai-compatibility"]
        assert compat[0]["api-key-entries"][0]["api-key"] == "sk-u...90b2"
        assert client.put("/openai-compatibility", json=compat).is_success
        assert chat(gateway).status_code == 200
        assert fake_upstream.requests[-1].headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
        rename = {"name": "up", "value": {"models": [{"name": "m1", "alias": "renamed"}]}}
        assert client.patch("/openai-compatibility", json=rename).is_success
        assert chat(gateway).status_code == 404  # m1 is now only known as "renamed"
        assert client.delete("/openai-compatibility", params={"name": "up"}).is_success
        assert client.get("/openai-compatibility").json() == {"openai-compatibility": []}
        for name in ("gemini-api-key", "codex-api-key", "vertex-api-key"):
            assert client.get(f"/{name}").json() == {name: []}
        codex = [{"api-key": "sk-codex-0000000001", "base-url": ""}]
        assert client.put("/codex-api-key", json=codex).is_success  # no base-url: dropped
        assert on_disk(gateway)["codex-api-key"] == []
    assert COMMENT in gateway.config_path.read_text()


def test_oauth_channel_maps(shared_gateway: GatewayProcess) -> None:
    with mgmt(shared_gateway) as client:
        excluded = {"claude": ["Claude-3-Opus", " "], "codex": ["gpt-4o-mini"]}
        assert client.put("/oauth-excluded-models", json=excluded).is_success
        assert client.get("/oauth-excluded-models").json() == {
            "oauth-excluded-models": {"claude": ["claude-3-opus"], "codex": ["gpt-4o-mini"]}
        }
        upsert = {"provider": "gemini-cli", "models": ["gemini-1.5-pro"]}
        assert client.patch("/oauth-excluded-models", json=upsert).is_success
        assert client.patch(
            "/oauth-excluded-models", json={"provider": "codex", "models": []}
        ).is_success
        gone = client.patch("/oauth-excluded-models", json={"provider": "none", "models": []})
        assert gone.status_code == 404
        assert client.delete("/oauth-excluded-models", params={"provider": "claude"}).is_success
        assert client.get("/oauth-excluded-models").json() == {
            "oauth-excluded-models": {"gemini-cli": ["gemini-1.5-pro"]}
        }
        aliases = {"claude": [{"name": "claude-sonnet-4", "alias": "sonnet", "fork": True}]}
        assert client.put("/oauth-model-alias", json={"items": aliases}).is_success
        assert client.get("/oauth-model-alias").json() == {"oauth-model-alias": aliases}
        more = {"channel": "codex", "aliases": [{"name": "gpt-5", "alias": "g5"}]}
        assert client.patch("/oauth-model-alias", json=more).is_success
        assert (
            client.put("/oauth-model-alias", json={"claude": [{"alias": "x"}]}).status_code == 400
        )
        assert client.delete("/oauth-model-alias", params={"channel": "claude"}).is_success
        assert on_disk(shared_gateway)["oauth-model-alias"] == {
            "codex": [{"name": "gpt-5", "alias": "g5"}]
        }
        assert client.delete("/oauth-model-alias", params={"channel": "codex"}).is_success


def test_config_json_hides_listener_and_management(shared_gateway: GatewayProcess) -> None:
    with mgmt(shared_gateway) as client:
        config = client.get("/config").json()
    for hidden in ("host", "port", "auth-dir", "remote-management"):
        assert hidden not in config
    assert config["api-keys"] == ["sk-c...5b1d"]
    assert config["openai-compatibility"][0]["api-key-entries"][0]["api-key"] == "sk-u...90b2"


def test_config_yaml_round_trip(fake_upstream: FakeUpstream, start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(mgmt_config(fake_upstream.base_url))
    with mgmt(gateway) as client:
        downloaded = client.get("/config.yaml")
        assert downloaded.headers["content-type"].startswith("application/yaml")
        text = downloaded.text
        assert COMMENT in text
        assert UPSTREAM_KEY not in text
        assert CLIENT_KEY not in text
        edited = text.replace("api-keys:", "# added through the API\napi-keys:").replace(
            "sk-c...5b1d", f"sk-c...5b1d\n  - {NEW_KEY}"
        )
        assert client.put("/config.yaml", content=edited).json() == {
            "ok": True,
            "changed": ["config"],
        }
        assert chat(gateway, NEW_KEY).status_code == 200
        assert chat(gateway, CLIENT_KEY).status_code == 200
        stored = gateway.config_path.read_text()
        assert "# added through the API" in stored
        assert COMMENT in stored
        assert UPSTREAM_KEY in stored  # the masked key in the upload stood for the real one

        before = gateway.config_path.read_bytes()
        broken = client.put("/config.yaml", content="host: [unclosed\n")
        assert broken.status_code == 400
        assert broken.json()["error"] == "invalid_yaml"
        unknown = client.put("/config.yaml", content=edited + "no-such-key: 1\n")
        assert unknown.status_code == 422
        assert unknown.json()["error"] == "invalid_config"
        assert unknown.json()["path"] == "no-such-key"
        bad_value = client.put(
            "/config.yaml", content=edited.replace("request-retry", "x") + "port: -5\n"
        )
        assert bad_value.status_code in (400, 422)
        remote = client.put(
            "/config.yaml",
            content=edited.replace(
                "remote-management:", "remote-management:\n  allow-remote: true"
            ),
        )
        assert remote.status_code == 422
        assert remote.json()["path"] == "remote-management"
        assert gateway.config_path.read_bytes() == before
        assert chat(gateway, NEW_KEY).status_code == 200


def test_concurrent_changes_are_serialised(shared_gateway: GatewayProcess) -> None:
    changes = [
        ("request-retry", 1),
        ("max-retry-credentials", 2),
        ("max-retry-interval", 7),
        ("debug", True),
        ("disable-cooling", True),
        ("routing/strategy", "fill-first"),
    ]

    def change(item: tuple[str, Any]) -> int:
        with mgmt(shared_gateway) as client:
            return client.put(f"/{item[0]}", json={"value": item[1]}).status_code

    with ThreadPoolExecutor(len(changes)) as pool:
        assert list(pool.map(change, changes)) == [200] * len(changes)
    stored = on_disk(shared_gateway)
    with mgmt(shared_gateway) as client:
        for route, value in changes:
            node: Any = stored
            for key in route.split("/"):
                node = node[key]
            assert node == value, route
            assert client.get(f"/{route}").json() == {route.split("/")[-1]: value}
        for route, default, _new in SCALARS:
            client.put(f"/{route}", json={"value": default})


def test_api_key_edits_keep_policy_entries(
    fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> None:
    policy = {"key": "sk-policy-key-0001", "name": "team", "models": ["m*"], "rpm": 50}
    config = mgmt_config(fake_upstream.base_url).replace(
        f"- {CLIENT_KEY}", f"- {CLIENT_KEY}\n- {yaml.safe_dump(policy, default_flow_style=True)}"
    )
    gateway = start_gateway(config)
    with mgmt(gateway) as client:
        listed = client.get("/api-keys").json()["api-keys"]
        assert len(listed) == 2
        # The listing sent back unchanged keeps the object entry whole.
        assert client.put("/api-keys", json=listed).is_success
        keys = yaml.safe_load(gateway.config_path.read_text())["api-keys"]
        assert keys == [CLIENT_KEY, policy]
        # A key change by old/new keeps the policy fields around the new key.
        renamed = {"old": listed[1], "new": "sk-policy-key-0002"}
        assert client.patch("/api-keys", json=renamed).is_success
        keys = yaml.safe_load(gateway.config_path.read_text())["api-keys"]
        assert keys == [CLIENT_KEY, {**policy, "key": "sk-policy-key-0002"}]
        assert client.delete("/api-keys", params={"value": "sk-policy-key-0002"}).is_success
        assert yaml.safe_load(gateway.config_path.read_text())["api-keys"] == [CLIENT_KEY]
    assert chat(gateway).status_code == 200
