"""Which tests guard which of the 17 invariants: read from the test sources, written to the docs.

The `invariant(N, ...)` markers are found with `ast`, not by running pytest, so the map is the
same whichever subset of the suite runs. A marker counts where pytest applies it: on a test
function or method, on a `Test*` class (every test in it), in a module's `pytestmark` (every
test in the module) and in a `pytest.param(..., marks=...)` (that case of the test).

::

    uv run --frozen python -m tests.support.invariant_map --write   # regenerate docs/invariants.md
    uv run --frozen python -m tests.support.invariant_map --check   # exit 1 when the doc is stale
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DOC_PATH",
    "INVARIANTS",
    "ROOT",
    "Marking",
    "MarkingError",
    "render",
    "scan",
]

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "invariants.md"
TESTS = ROOT / "tests"

# One line each; the full wording is reliability.md section 4.
INVARIANTS: dict[int, str] = {
    1: "No credential goes anywhere but its own upstream: no client field or header changes the "
    "destination, redirects are not followed, private destinations need the operator's say-so.",
    2: "A client never sees a secret it does not own (other keys, tokens, the management secret "
    "or its hash) in any body, header, error, SSE event or listing.",
    3: "The client's own gateway key is never forwarded upstream, and hop-by-hop headers never "
    "cross the proxy in either direction.",
    4: "No secret reaches a log, usage record, metric label, error message, git commit or S3 "
    "object in plaintext; redaction covers the whole value.",
    5: "An OAuth refresh token is never lost or corrupted by a crash, kill, full disk or "
    "concurrent update; concurrent refreshes collapse into one.",
    6: "A config reload that fails parsing or validation changes nothing; a request sees one "
    "config version; a reload never drops in-flight requests.",
    7: "Every persisted file is replaced atomically (temp, write, fsync, rename); secret files "
    "are 0600 from the first byte.",
    8: "The management API is never reachable without the secret; no secret means off; remote "
    "access is off by default; placeholder keys are refused.",
    9: "Authorization is decided on exactly the path the router dispatches, never on a URL "
    "rebuilt from Host or forwarding headers.",
    10: "No name from a request escapes the auth directory: allowlisted names, resolved-path "
    "containment, no symlinks out.",
    11: "No retry or failover after any response byte has reached the client; an interrupted "
    "stream is never presented as a complete success.",
    12: "A client's own bad requests never take credentials out of rotation.",
    13: "A storage backend outage never fails or stalls proxied traffic beyond its bounded "
    "timeout, never blocks the event loop; buffered usage data is bounded.",
    14: "Memory per connection and per stream is bounded: slow clients meet backpressure, "
    "overload is shed with 429/503, the process does not die.",
    15: "A client disconnect cancels the upstream call in every phase.",
    16: "Nothing from config or a request is ever executed or rendered as code or a template.",
    17: "The git backend never force-pushes or rewrites remote history; a rejected push keeps the "
    "local commit; secrets are encrypted before they reach git or S3.",
}


class MarkingError(ValueError):
    """A marker the map cannot read: numbers that are not literals, or out of range."""


@dataclass(frozen=True, slots=True)
class Marking:
    """One marker occurrence: the invariant numbers and the test node id they apply to."""

    numbers: tuple[int, ...]
    node: str
    """`tests/x.py::test_y`, `tests/x.py::TestZ` or `tests/x.py` (module-wide)."""


def _is_invariant_mark(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "invariant"
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "mark"
    )


def _numbers(call: ast.Call, where: str) -> tuple[int, ...]:
    if call.keywords or not call.args:
        raise MarkingError(f"{where}: invariant() takes one or more invariant numbers")
    numbers: list[int] = []
    for arg in call.args:
        if not (isinstance(arg, ast.Constant) and type(arg.value) is int):
            raise MarkingError(f"{where}: invariant() takes literal integers")
        if arg.value not in INVARIANTS:
            raise MarkingError(f"{where}: there is no invariant {arg.value} (1-17)")
        numbers.append(arg.value)
    return tuple(numbers)


def _marks_in(expr: ast.AST, where: str) -> Iterator[tuple[int, ...]]:
    for node in ast.walk(expr):
        if isinstance(node, ast.Call) and _is_invariant_mark(node):
            yield _numbers(node, f"{where}:{node.lineno}")


def _params_marks(decorator: ast.AST, where: str) -> Iterator[tuple[int, ...]]:
    """Invariant marks inside `pytest.param(..., marks=...)` of a parametrize decorator."""
    for node in ast.walk(decorator):
        if isinstance(node, ast.Call) and not _is_invariant_mark(node):
            for keyword in node.keywords:
                if keyword.arg == "marks":
                    yield from _marks_in(keyword.value, where)


def _decorated(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, rel: str, prefix: str
) -> Iterator[Marking]:
    node_id = f"{rel}::{prefix}{node.name}"
    is_test = (
        node.name.startswith("Test")
        if isinstance(node, ast.ClassDef)
        else node.name.startswith("test")
    )
    for decorator in node.decorator_list:
        where = f"{rel}:{decorator.lineno}"
        if isinstance(decorator, ast.Attribute) and decorator.attr == "invariant":
            raise MarkingError(f"{where}: invariant needs its numbers: invariant(N)")
        if isinstance(decorator, ast.Call) and _is_invariant_mark(decorator):
            if not is_test:
                raise MarkingError(f"{where}: {node.name} is not a test, the marker does nothing")
            yield Marking(_numbers(decorator, where), node_id)
            continue
        for numbers in _params_marks(decorator, where):
            yield Marking(numbers, node_id)


def _file_markings(path: Path) -> Iterator[Marking]:
    rel = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    if not _is_test_module(path):
        # A shared base class's tests are collected under other names: mark them there.
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_invariant_mark(node):
                raise MarkingError(f"{rel}:{node.lineno}: mark tests in a test_*.py module")
        return
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets
        ):
            for numbers in _marks_in(stmt.value, f"{rel}:{stmt.lineno}"):
                yield Marking(numbers, rel)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _decorated(stmt, rel, "")
        elif isinstance(stmt, ast.ClassDef):
            yield from _decorated(stmt, rel, "")
            for item in stmt.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield from _decorated(item, rel, f"{stmt.name}::")


def _is_test_module(path: Path) -> bool:
    return path.name.startswith("test_") or path.name.endswith("_test.py")


def _test_files(root: Path) -> Iterable[Path]:
    return sorted(p for p in root.rglob("*.py") if ".mark.invariant" in p.read_text("utf-8"))


def scan(root: Path = TESTS) -> dict[int, list[str]]:
    """Invariant number -> sorted node ids of the tests marked as guarding it (every 1-17 key)."""
    found: dict[int, set[str]] = {n: set() for n in INVARIANTS}
    for path in _test_files(root):
        for marking in _file_markings(path):
            for number in marking.numbers:
                found[number].add(marking.node)
    return {n: sorted(nodes) for n, nodes in found.items()}


def render(mapping: dict[int, list[str]]) -> str:
    """The text of docs/invariants.md for `mapping`."""
    lines = [
        "# Invariants and the tests that guard them",
        "",
        "The 17 must-never-happen invariants of the reliability plan (`reliability.md`, section 4),",
        "each with the tests marked `@pytest.mark.invariant(N)` that fail when it breaks. A node",
        "id without `::` means every test in that module (its `pytestmark`).",
        "",
        "This file is generated from the markers; never edit it by hand. After adding or moving",
        "a marker, regenerate it:",
        "",
        "```sh",
        "uv run --frozen python -m tests.support.invariant_map --write",
        "```",
        "",
        "`tests/test_invariants.py` fails when an invariant has no test or this file is stale.",
        "",
    ]
    for number, statement in INVARIANTS.items():
        nodes = mapping.get(number, [])
        lines += [f"## {number}. {statement}", ""]
        lines += [f"- `{node}`" for node in nodes] or ["- (no test yet)"]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`--write` regenerates the doc; `--check` reports whether it is current."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.invariant_map")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="regenerate docs/invariants.md")
    action.add_argument("--check", action="store_true", help="exit 1 if the doc is stale")
    args = parser.parse_args(argv)
    text = render(scan())
    if args.write:
        DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOC_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOC_PATH.relative_to(ROOT)}")
        return 0
    current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
    if current != text:
        print(f"{DOC_PATH.relative_to(ROOT)} is stale: run with --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
