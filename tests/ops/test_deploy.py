"""deploy/: the systemd unit passes `systemd-analyze verify`; Dockerfile and compose file, statically."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from aiproxyapi.config import Config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "aiproxyapi.service"


def unit_section(name: str) -> configparser.SectionProxy:
    # Repeated keys (SystemCallFilter) are legal in units: the last one is enough here.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser[name]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart is executable, so it points at a stub in a scratch unit dir.
    stub = tmp_path / "aiproxyapi"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    unit = tmp_path / "aiproxyapi.service"
    text = UNIT.read_text()
    assert "ExecStart=/opt/aiproxyapi/bin/aiproxyapi " in text
    unit.write_text(text.replace("/opt/aiproxyapi/bin/aiproxyapi", str(stub)))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    complaints = [line for line in result.stderr.splitlines() if "aiproxyapi.service" in line]
    assert result.returncode == 0, result.stderr
    assert complaints == []


def test_the_unit_is_hardened_for_a_dedicated_user() -> None:
    service = unit_section("Service")
    assert service["User"] == "aiproxyapi"
    assert service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "true"
    assert service["Restart"] == "on-failure"
    writable = service["ReadWritePaths"].split()
    assert "/var/lib/aiproxyapi/auths" in writable
    assert "/var/lib/aiproxyapi/logs" in writable
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    # systemd must wait longer than the gateway's own drain before it kills.
    assert float(service["TimeoutStopSec"].rstrip("s")) > Config().shutdown_timeout_seconds


def dockerfile_stages() -> list[tuple[str, list[str]]]:
    stages: list[tuple[str, list[str]]] = []
    for raw in (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            found = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
            assert found is not None
            stages.append((found[1] or "", []))
        else:
            stages[-1][1].append(line)
    return stages


def test_the_dockerfile_is_multi_stage_and_runs_as_non_root() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    names = [name for name, _ in stages]
    final = stages[-1][1]
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users, "the final stage must set USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    copies = [line for line in final if line.upper().startswith("COPY --FROM=")]
    assert any(line.split()[1].split("=")[1] in names[:-1] for line in copies)
    assert any(line.startswith("ENTRYPOINT") and "aiproxyapi" in line for line in final)
    assert any(line.startswith("HEALTHCHECK") and "/healthz" in line for line in final)
    assert "EXPOSE 8317" in final
    # Build tools stay in the build stage.
    assert not any("uv " in line for line in final if line.startswith("RUN"))


def test_the_compose_file_pairs_the_gateway_with_postgresql() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    gateway, postgres = services["aiproxyapi"], services["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert "healthcheck" in postgres
    assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
    env = gateway["environment"]
    assert set(env) >= {"PGSTORE_DSN", "PGSTORE_SCHEMA", "PGSTORE_LOCAL_PATH"}
    assert "@postgres:5432/" in env["PGSTORE_DSN"]
    # The password comes from the environment (.env), never from the file itself.
    assert "${POSTGRES_PASSWORD}" in env["PGSTORE_DSN"]
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")
    build = gateway["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert all(str(port).startswith("127.0.0.1:") for port in gateway["ports"])
    assert int(gateway["stop_grace_period"].rstrip("s")) > Config().shutdown_timeout_seconds


CLUSTER_GATEWAYS = ("aiproxyapi-1", "aiproxyapi-2", "aiproxyapi-3")


def test_the_cluster_compose_file_shares_postgresql_and_redis_behind_nginx() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.cluster.yaml").read_text())
    services = compose["services"]
    assert services["redis"]["image"].startswith("redis:")
    assert "healthcheck" in services["redis"]
    assert "noeviction" in services["redis"]["command"]  # the seed marks must never go
    data_volumes = set()
    for name in CLUSTER_GATEWAYS:
        gateway = services[name]
        assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
        env = gateway["environment"]
        assert "${POSTGRES_PASSWORD}" in env["PGSTORE_DSN"]
        assert env["PGSTORE_LOCAL_PATH"] == "/data"
        assert "ports" not in gateway  # reached through nginx only
        (data,) = [v for v in gateway["volumes"] if v.endswith(":/data")]
        data_volumes.add(data.split(":", 1)[0])
        build = gateway["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    # Each instance keeps its own mirror and instance id.
    assert len(data_volumes) == len(CLUSTER_GATEWAYS)
    assert data_volumes <= set(compose["volumes"])
    nginx = services["nginx"]
    assert all(str(port).startswith("127.0.0.1:") for port in nginx["ports"])
    (conf,) = [v for v in nginx["volumes"] if "nginx" in v]
    upstream = (DEPLOY / conf.split(":", 1)[0]).read_text()
    for name in CLUSTER_GATEWAYS:
        assert f"server {name}:8317" in upstream
    assert "proxy_buffering off;" in upstream  # streams are relayed as they come


def test_the_reference_deployment_config_is_a_valid_config() -> None:
    doc = (DEPLOY.parent / "docs" / "deployment.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)
    from aiproxyapi.config import parse_config

    config = parse_config(block, "docs/deployment.md").config
    assert config.redis.enabled
    assert config.redis.key_prefix == "aiproxyapi:"
    assert config.api_keys
