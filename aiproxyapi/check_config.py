"""`aiproxyapi check-config FILE`: validate a config file the way the server would load it.

Exit 0 with a one-paragraph summary, or 1 with the problem: file, line, key path, reason.
The checks are those of a start: decoding, cross-field rules, access safety (placeholder keys,
an open gateway on a public address) and a loadable TLS certificate; nothing is served.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["add_command", "check_file"]


def add_command(commands: Any) -> None:
    """Register `check-config` on the CLI's subcommands."""
    parser = commands.add_parser(
        "check-config", help="validate a config file and print a summary; exit 1 when invalid"
    )
    parser.add_argument("file", metavar="FILE", help="the config.yaml to check")
    parser.set_defaults(command=lambda args: check_file(Path(args.file)))


def check_file(path: Path) -> int:
    """Check one file; print the summary (stdout) or the problem (stderr); the exit code."""
    from aiproxyapi.access import UnsafeConfigError
    from aiproxyapi.config import ConfigError, load_config
    from aiproxyapi.executors import HttpClients
    from aiproxyapi.pool import PoolState
    from aiproxyapi.runtime import build_runtime
    from aiproxyapi.serving import TlsFilesError, check_tls_files

    try:
        loaded = load_config(path)
        config = loaded.config
        runtime = build_runtime(config, state=PoolState(), clients=HttpClients(), generation=1)
        check_tls_files(config)
    except ConfigError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    except (UnsafeConfigError, TlsFilesError, ValueError) as exc:
        print(f"invalid: {path}: {exc}", file=sys.stderr)
        return 1
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    scheme = "https" if config.tls.enable else "http"
    print(
        f"ok: {path}: serves {scheme}://{config.host or '0.0.0.0'}:{config.port}; "  # noqa: S104
        f"{len(runtime.credentials)} credential(s), {len(runtime.registry.entries())} model(s), "
        f"{len(config.api_keys)} client key(s), strategy {config.routing.resolved_strategy.value}"
        + (f"; {len(loaded.warnings)} warning(s)" if loaded.warnings else "")
    )
    return 0
