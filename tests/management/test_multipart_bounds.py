"""Multipart uploads to the one route that takes them stay bounded (reliability plan B10).

`POST /v0/management/auth-files` accepts a multipart form. Hostile forms (a boundary followed
by a long run of junk, CVE-2024-8984's shape; thousands of parts; a part with no end) must be
answered at once with a 4xx, and file names are checked in tests/management/test_auth_files.py
and test_traversal_sentinels.py.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.management.support import SECRET
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

BOUNDARY = "b0undary"
RECORD = json.dumps({"type": "claude", "access_token": "t"})


def part(name: str, body: str, filename: str | None = None) -> str:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n{body}\r\n"


FORMS = {
    # Junk after a boundary line, the shape that made one parser spend time per character.
    "boundary-suffix": f"--{BOUNDARY}" + "-" * 200_000 + "\r\n" + part("file", RECORD, "a.json"),
    "junk-after-boundary": part("file", RECORD, "a.json").replace(
        f"--{BOUNDARY}\r\n", f"--{BOUNDARY}" + " x" * 100_000 + "\r\n"
    ),
    "many-parts": "".join(part(f"f{i}", "x") for i in range(20_000)) + f"--{BOUNDARY}--\r\n",
    "no-closing-boundary": part("file", RECORD, "a.json"),
    "no-file-part": part("other", RECORD) + f"--{BOUNDARY}--\r\n",
}


@pytest.mark.parametrize("form", list(FORMS))
def test_a_hostile_form_is_a_quick_4xx(shared_gateway: GatewayProcess, form: str) -> None:
    body = FORMS[form].encode()
    response = httpx.post(
        f"{shared_gateway.base_url}/v0/management/auth-files",
        content=body,
        headers={
            "Authorization": f"Bearer {SECRET}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
        timeout=10,
    )
    assert 400 <= response.status_code < 500, response.text[:300]
    assert "error" in response.json()
    assert not (shared_gateway.auth_dir / "a.json").exists()
    assert httpx.get(f"{shared_gateway.base_url}/healthz", timeout=5).status_code == 200
