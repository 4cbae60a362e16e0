"""Every login command end to end: the real CLI as a subprocess against the fake OAuth server.

The browser is simulated by following the printed authorize URL with httpx; device codes are
"entered" by the fake's scripted poll outcomes.
"""

from __future__ import annotations

import json
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_oauth import FakeOAuth
from tests.support.gateway import free_port
from tests.support.login_cli import LoginProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def fake() -> Iterator[FakeOAuth]:
    with FakeOAuth() as server:
        yield server


def _run(fake: FakeOAuth, tmp_path: Path, *args: str) -> LoginProcess:
    return LoginProcess(
        [*args, "--no-browser", "--oauth-callback-port", str(free_port())],
        tmp_path=tmp_path,
        env=fake.env(),
    )


def _record(cli: LoginProcess, name: str) -> dict[str, Any]:
    path = cli.auth_dir / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _authorize_url(cli: LoginProcess, fake: FakeOAuth) -> str:
    return cli.wait_for_line(lambda line: line.startswith(fake.root_url))


@pytest.mark.parametrize(
    ("flag", "extra", "name", "record_type"),
    [
        ("--claude-login", (), "claude-user@example.com.json", "claude"),
        ("--codex-login", (), "codex-user@example.com-plus.json", "codex"),
        ("--login", ("--project_id", "proj-a"), "gemini-user@example.com-proj-a.json", "gemini"),
        ("--iflow-login", (), "iflow-user@example.com.json", "iflow"),
    ],
)
def test_browser_logins_write_the_record(
    fake: FakeOAuth, tmp_path: Path, flag: str, extra: tuple[str, ...], name: str, record_type: str
) -> None:
    with _run(fake, tmp_path, flag, *extra) as cli:
        page = fake.browser(_authorize_url(cli, fake))
        assert page.status_code == 200
        assert cli.finish() == 0, cli.stderr
    assert "as user@example.com" in cli.stdout
    assert f"Record stored at {cli.auth_dir / name}" in cli.stdout
    record = _record(cli, name)
    assert record["type"] == record_type
    assert record["email"] == "user@example.com"
    assert [p.name for p in cli.auth_dir.iterdir()] == [name]


def test_gemini_login_with_a_project_list(fake: FakeOAuth, tmp_path: Path) -> None:
    with _run(fake, tmp_path, "--login", "--project_id", "proj-a,proj-b") as cli:
        fake.browser(_authorize_url(cli, fake))
        assert cli.finish() == 0, cli.stderr
    record = _record(cli, "gemini-user@example.com-all.json")
    assert record["project_id"] == "proj-a,proj-b"
    assert record["token"]["access_token"].startswith("google-at-")


def test_a_pasted_callback_url_completes_the_login(fake: FakeOAuth, tmp_path: Path) -> None:
    with _run(fake, tmp_path, "--codex-login") as cli:
        target = fake.redirect_for(_authorize_url(cli, fake))
        cli.paste(target)
        assert cli.finish() == 0, cli.stderr
    assert _record(cli, "codex-user@example.com-plus.json")["account_id"] == "acc-1234"


def test_a_foreign_state_is_refused(fake: FakeOAuth, tmp_path: Path) -> None:
    with _run(fake, tmp_path, "--claude-login") as cli:
        target = fake.redirect_for(_authorize_url(cli, fake))
        cli.paste(target.replace("state=", "state=x", 1))
        assert cli.finish() == 1
    assert "state does not match" in cli.stderr
    assert "run the login again" in cli.stderr
    assert "Traceback" not in cli.stderr
    assert not cli.auth_dir.exists() or list(cli.auth_dir.iterdir()) == []
    assert fake.requests_to("claude.token") == []


def test_denied_consent_fails_cleanly(fake: FakeOAuth, tmp_path: Path) -> None:
    with _run(fake, tmp_path, "--login") as cli:
        page = fake.browser(_authorize_url(cli, fake), deny=True)
        assert page.status_code == 400
        assert cli.finish() == 1
    assert "refused" in cli.stderr
    assert "Traceback" not in cli.stderr


def test_a_busy_callback_port_says_what_to_do(fake: FakeOAuth, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        cli = LoginProcess(
            ["--claude-login", "--no-browser", "--oauth-callback-port", str(port)],
            tmp_path=tmp_path,
            env=fake.env(),
        )
        with cli:
            assert cli.finish() == 1
    assert "--oauth-callback-port" in cli.stderr
    assert "Traceback" not in cli.stderr


@pytest.mark.parametrize(
    ("flag", "fake_name", "name"),
    [
        ("--copilot-login", "github", "copilot-octocat.json"),
        ("--codex-device-login", "codex", "codex-user@example.com-plus.json"),
        ("--qwen-login", "qwen", None),
    ],
)
def test_device_logins_show_the_code_and_write_the_record(
    fake: FakeOAuth, tmp_path: Path, flag: str, fake_name: str, name: str | None
) -> None:
    fake.device_outcomes[fake_name] = ["pending", "ok"]
    with _run(fake, tmp_path, flag) as cli:  # the callback port is no concern of device flows
        shown = cli.wait_for_line(lambda line: "enter the code" in line)
        assert "ABCD-1234" in shown
        assert cli.finish() == 0, cli.stderr
    assert "waiting for the code to be entered (poll 1)" in cli.stderr
    [written] = list(cli.auth_dir.iterdir())
    if name is not None:
        assert written.name == name
    assert _record(cli, written.name)["access_token"]


def test_device_login_slows_down_when_asked(fake: FakeOAuth, tmp_path: Path) -> None:
    fake.device_outcomes["github"] = ["pending", "slow_down", "ok"]
    fake.slow_down_interval = 0.3
    with LoginProcess(
        ["--copilot-login", "--no-browser"], tmp_path=tmp_path, env=fake.env()
    ) as cli:
        assert cli.finish() == 0, cli.stderr
    assert "poll less often: every 0.3 s" in cli.stderr
    assert len(fake.requests_to("copilot.token")) == 3
    assert _record(cli, "copilot-octocat.json")["login"] == "octocat"


def test_device_login_denied(fake: FakeOAuth, tmp_path: Path) -> None:
    fake.device_outcomes["github"] = ["denied"]
    with LoginProcess(
        ["--copilot-login", "--no-browser"], tmp_path=tmp_path, env=fake.env()
    ) as cli:
        assert cli.finish() == 1
    assert "denied" in cli.stderr
    assert "Traceback" not in cli.stderr


def test_vertex_import(fake: FakeOAuth, tmp_path: Path) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(fake.add_service_account("my-proj")))
    with LoginProcess(["--vertex-import", str(key_file)], tmp_path=tmp_path) as cli:
        assert cli.finish() == 0, cli.stderr
    record = _record(cli, "vertex-my-proj.json")
    assert record["type"] == "vertex"
    assert record["project_id"] == "my-proj"
    assert record["location"] == "us-central1"
    assert record["service_account"]["client_email"] == "runner@my-proj.iam.gserviceaccount.com"
    assert "vertex-my-proj.json" in cli.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"type": "authorized_user"}', "not a service-account key"),
        ('{"type": "service_account", "project_id": "p"}', "lacks client_email, private_key"),
        (
            '{"type": "service_account", "project_id": "p", "client_email": "a@b", '
            '"private_key": "nope"}',
            "not a PEM RSA key",
        ),
    ],
)
def test_vertex_import_refuses_bad_key_files(tmp_path: Path, content: str, message: str) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(content)
    with LoginProcess(["--vertex-import", str(key_file)], tmp_path=tmp_path) as cli:
        assert cli.finish() == 1
    assert message in cli.stderr
    assert "Traceback" not in cli.stderr
    assert not cli.auth_dir.exists()


def test_vertex_import_of_a_missing_file(tmp_path: Path) -> None:
    with LoginProcess(["--vertex-import", str(tmp_path / "nope.json")], tmp_path=tmp_path) as cli:
        assert cli.finish() == 1
    assert "cannot read" in cli.stderr
    assert "service-account key" in cli.stderr


def test_project_id_without_login_is_refused(tmp_path: Path) -> None:
    with LoginProcess(["--claude-login", "--project_id", "p"], tmp_path=tmp_path) as cli:
        assert cli.finish() == 1
    assert "--project_id goes with --login" in cli.stderr
