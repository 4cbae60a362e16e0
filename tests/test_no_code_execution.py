"""Nothing from config or a request is executed or rendered as code (invariant 16), read from the source.

An `ast` scan of the shipped packages for the ways data becomes code: `eval`, `exec`,
`compile`, `yaml.load` or any non-safe YAML loader, pickle and marshal loads, template engines,
shell commands and `os.system`. The one place that starts processes (the git backend) runs
`git` itself with an argument list, never a shell; it is checked to stay the only one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("aiproxyapi", "auth", "storage", "web")
# The only module allowed to start a process, and the only way it may.
PROCESS_STARTERS = {"storage/_gitcmd.py": {"create_subprocess_exec"}}

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "breakpoint"}
FORBIDDEN_ATTRIBUTES = {
    ("yaml", "load"),
    ("yaml", "unsafe_load"),
    ("yaml", "full_load"),
    ("yaml", "load_all"),
    ("pickle", "loads"),
    ("pickle", "load"),
    ("marshal", "loads"),
    ("os", "system"),
    ("os", "popen"),
}
FORBIDDEN_IMPORTS = {"jinja2", "mako", "pickle", "marshal", "shelve", "dill", "subprocess"}
PROCESS_CALLS = {
    "asyncio": {"create_subprocess_exec", "create_subprocess_shell"},
    "os": {"execv", "execve", "execvp", "execl", "spawnl", "spawnv", "posix_spawn", "fork"},
    "subprocess": {"Popen", "run", "call", "check_call", "check_output", "getoutput"},
}


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def findings(path: Path, root: Path = ROOT) -> list[str]:
    rel = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            found += [
                f"{rel}:{node.lineno} imports {name}"
                for name in names
                if name.split(".")[0] in FORBIDDEN_IMPORTS
            ]
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
            found.append(f"{rel}:{node.lineno} calls {func.id}()")
        if isinstance(func, ast.Attribute):
            owner = func.value.id if isinstance(func.value, ast.Name) else ""
            if (owner, func.attr) in FORBIDDEN_ATTRIBUTES:
                found.append(f"{rel}:{node.lineno} calls {owner}.{func.attr}()")
            starts = func.attr in PROCESS_CALLS.get(owner, set())
            if starts and func.attr not in PROCESS_STARTERS.get(rel, set()):
                found.append(f"{rel}:{node.lineno} starts a process with {func.attr}()")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"{rel}:{node.lineno} passes shell=")
    return found


@pytest.mark.invariant(16)
def test_no_shipped_module_turns_data_into_code() -> None:
    assert sources(), "no sources found"
    problems = [line for path in sources() for line in findings(path)]
    assert problems == []


@pytest.mark.parametrize(
    "snippet",
    [
        "eval(text)",
        "exec(body)",
        "import yaml\nyaml.load(text)",
        "import jinja2",
        "from jinja2 import Template",
        "import os\nos.system(cmd)",
        "import asyncio\nasyncio.create_subprocess_shell(cmd)",
        "run(cmd, shell=True)",
        "import os\nos.execv(path, args)",
    ],
)
def test_the_scan_finds_each_form(tmp_path: Path, snippet: str) -> None:
    module = tmp_path / "aiproxyapi" / "bad.py"
    module.parent.mkdir()
    module.write_text(snippet + "\n", encoding="utf-8")
    assert findings(module, tmp_path)
