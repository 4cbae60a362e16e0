"""The import directions of ARCHITECTURE.md, checked over the source tree with `ast`."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("aiproxyapi", "auth", "storage", "web")
STDLIB = frozenset(sys.stdlib_module_names)


def within(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def imported(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every import; `from a import b` counts as `a.b`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the file's own package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def broken_rule(file: str, module: str) -> str | None:
    """Which rule importing `module` from `file` (posix, relative to the root) breaks."""
    top = module.split(".", maxsplit=1)[0]
    if file.startswith(("aiproxyapi/formats/", "aiproxyapi/canonical/")):
        own: tuple[str, ...] = ("aiproxyapi.formats", "aiproxyapi.canonical")
        if file.startswith("aiproxyapi/canonical/"):
            own = ("aiproxyapi.canonical",)
        if top not in STDLIB and top != "msgspec" and not within(module, *own):
            return "formats/ and canonical/ import only the standard library and msgspec"
    if file.startswith("aiproxyapi/executors/") and top == "litestar":
        return "executors/ never import litestar"
    if file.startswith("aiproxyapi/relay/") and top == "litestar":
        return "relay/ never imports litestar"
    if (
        file.startswith("aiproxyapi/config/")
        and top == "aiproxyapi"
        and not within(module, "aiproxyapi.config")
    ):
        return "config/ imports nothing else of the project"
    if file.startswith(("storage/", "auth/")) and within(
        module, "aiproxyapi.api", "aiproxyapi.management"
    ):
        return "storage and auth never import the api or management"
    if within(module, "aiproxyapi.api") and not (
        file.startswith("aiproxyapi/api/") or file == "aiproxyapi/server.py"
    ):
        return "nothing imports api/ (but the server that starts it)"
    if file.startswith("aiproxyapi/usage/") and top in ("litestar", "httpx"):
        return "usage/ imports neither litestar nor httpx"
    if file.startswith(("aiproxyapi/pool/", "aiproxyapi/accounts/")) and within(
        module, "aiproxyapi.shared"
    ):
        return "pool/ and accounts/ never import shared/ (they offer seams it fills)"
    if file.startswith("aiproxyapi/serving/") and within(
        module, "aiproxyapi.api", "aiproxyapi.relay"
    ):
        return "serving/ imports neither the routes nor the relay"
    return None


def violations(file: str, source: str) -> list[str]:
    package = ".".join(file.split("/")[:-1])  # a module's or an __init__'s own package
    tree = ast.parse(source, filename=file)
    return [
        f"{file}:{line}: imports {module}: {rule}"
        for line, module in imported(tree, package)
        if (rule := broken_rule(file, module))
    ]


def source_files() -> list[Path]:
    return sorted(p for name in PACKAGES for p in (ROOT / name).rglob("*.py"))


def test_the_source_tree_follows_the_import_directions() -> None:
    files = source_files()
    assert len(files) > 20  # the walk really found the tree
    found = [
        problem
        for path in files
        for problem in violations(path.relative_to(ROOT).as_posix(), path.read_text("utf-8"))
    ]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("file", "source"),
    [
        ("aiproxyapi/formats/claude.py", "from aiproxyapi.config import Config"),
        ("aiproxyapi/formats/claude.py", "import httpx"),
        ("aiproxyapi/formats/__init__.py", "from ..routing import Route"),
        ("aiproxyapi/formats/claude.py", "from aiproxyapi import errors"),
        ("aiproxyapi/canonical/request.py", "from aiproxyapi.formats import Format"),
        ("aiproxyapi/executors/claude.py", "def f():\n    from litestar import Response"),
        ("aiproxyapi/config/load.py", "from aiproxyapi.secret import Secret"),
        ("aiproxyapi/config/load.py", "from .. import errors"),
        ("storage/git.py", "from aiproxyapi.management import routes"),
        ("auth/claude.py", "import aiproxyapi.api.app"),
        ("aiproxyapi/gateway.py", "from aiproxyapi.api import create_app"),
        ("aiproxyapi/gateway.py", "from aiproxyapi import api"),
        ("aiproxyapi/usage/persist.py", "import httpx"),
        ("aiproxyapi/usage/record.py", "from litestar.stores.base import Store"),
        ("aiproxyapi/serving/run.py", "from aiproxyapi.relay import relay"),
        ("aiproxyapi/pool/state.py", "from aiproxyapi.shared import RedisLink"),
        ("aiproxyapi/accounts/book.py", "from aiproxyapi.shared.link import RedisLink"),
    ],
)
def test_the_checker_catches_each_kind_of_violation(file: str, source: str) -> None:
    [problem] = violations(file, source)
    assert problem.startswith(f"{file}:")


@pytest.mark.parametrize(
    ("file", "source"),
    [
        ("aiproxyapi/formats/openai_chat.py", "from aiproxyapi.canonical import Usage"),
        ("aiproxyapi/formats/claude.py", "from . import sse\nfrom .sse import SSEDecoder"),
        ("aiproxyapi/canonical/__init__.py", "from .usage import Usage\nimport msgspec.json"),
        ("aiproxyapi/config/load.py", "import yaml\nfrom ._walk import walk_document"),
        ("aiproxyapi/api/app.py", "from aiproxyapi.api.openai import chat_completions"),
        ("aiproxyapi/server.py", "from aiproxyapi.api import create_app"),
        ("aiproxyapi/executors/http.py", "import httpx"),
        ("aiproxyapi/shared/cooldowns.py", "from aiproxyapi.pool import PoolState"),
    ],
)
def test_the_checker_allows_the_permitted_directions(file: str, source: str) -> None:
    assert violations(file, source) == []
