"""The `aiproxyapi` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from aiproxyapi import __version__
from aiproxyapi.login import add_login_arguments, chosen_login, run_login

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiproxyapi",
        description="Self-hosted AI API gateway in front of a pool of upstream credentials.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: ./config.yaml when present, else an embedded default)",
    )
    parser.add_argument("--version", action="version", version=f"aiproxyapi {__version__}")
    add_login_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    if chosen_login(args) is not None:
        return run_login(args)
    from aiproxyapi.server import serve

    return serve(args.config)
