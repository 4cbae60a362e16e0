"""The `aiproxyapi` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from aiproxyapi import __version__, check_config
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
    parser.add_argument(
        "--port", type=int, metavar="N", help="listen on this port instead of the config's port"
    )
    parser.add_argument("--version", action="version", version=f"aiproxyapi {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    check_config.add_command(commands)
    store = commands.add_parser("store", help="storage backend maintenance")
    store_commands = store.add_subparsers(metavar="ACTION", required=True)
    rotate = store_commands.add_parser(
        "rotate-key",
        help="re-encrypt every record under AIPROXYAPI_STORE_KEY (see README, Storage)",
    )
    rotate.set_defaults(command=_rotate_key)
    add_login_arguments(parser)
    return parser


def _rotate_key(args: argparse.Namespace) -> int:
    from aiproxyapi.store_command import rotate_key

    return rotate_key(args.config)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    if getattr(args, "command", None) is not None:
        code: int = args.command(args)
        return code
    if chosen_login(args) is not None:
        return run_login(args)
    from aiproxyapi.server import serve

    return serve(args.config, port=args.port)
