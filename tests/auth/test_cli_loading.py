"""Serving never loads the login machinery: it loads only when a login flag is given."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_loads_no_login_code_until_a_login_runs() -> None:
    probe = (
        "import sys, aiproxyapi.cli as cli\n"
        "args = cli._parser().parse_args([])\n"
        "assert cli.chosen_login(args) is None\n"
        "print(sorted(m for m in sys.modules if m == 'auth' or m.startswith(('auth.', 'authlib'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
