"""A14: static analysis of the gateway's own code, and the interpreter's start-up hooks."""

from __future__ import annotations

import ast
import json
import site
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("aiproxyapi", "auth", "storage")

# bandit findings of medium severity looked at and accepted, by (file, test id):
ACCEPTED_MEDIUM = {
    # SQL built from constant column lists and a schema name checked against an identifier
    # pattern; every value travels as a bound parameter.
    ("aiproxyapi/usage/records_pg.py", "B608"),
    ("aiproxyapi/usage/records_sqlite.py", "B608"),
    # "" in `host` means every interface, as in CLIProxyAPI; an open gateway is refused there.
    ("aiproxyapi/check_config.py", "B104"),
    ("aiproxyapi/server.py", "B104"),
    ("aiproxyapi/serving/run.py", "B104"),
}

#: `.pth` files site-packages may hold: they run at every interpreter start (LiteLLM 1.82.8).
ALLOWED_PTH = {
    "_editable_impl_aiproxyapi.pth",  # uv's editable install of this project: a path line
    "distutils-precedence.pth",  # setuptools
    "_virtualenv.pth",  # virtualenv's own hook
}


def _sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return ""


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for module in modules:
                if module.split(".")[0] in {"jinja2", "pickle", "marshal", "shelve"}:
                    found.append(f"{where}:{node.lineno}: imports {module}")
    for call in _calls(tree):
        name = _name(call.func)
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        line = f"{where}:{call.lineno}"
        if name in {"eval", "exec", "compile", "__import__", "os.system", "os.popen"}:
            found.append(f"{line}: {name}()")
        if name in {"yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.full_load"}:
            loader = keywords.get("Loader")
            if not (isinstance(loader, ast.Attribute) and "Safe" in loader.attr):
                found.append(f"{line}: {name} without a safe loader")
        if name.endswith("YAML"):
            kind = keywords.get("typ")
            if isinstance(kind, ast.Constant) and kind.value in {"unsafe", "full"}:
                found.append(f"{line}: ruamel YAML(typ={kind.value!r})")
        redirects = keywords.get("follow_redirects")
        if isinstance(redirects, ast.Constant) and redirects.value is True:
            found.append(f"{line}: follow_redirects=True")
        shell = keywords.get("shell")
        if isinstance(shell, ast.Constant) and shell.value is True:
            found.append(f"{line}: shell=True")
    return found


@pytest.mark.invariant(16, 1)
def test_no_code_execution_unsafe_yaml_or_followed_redirects_in_the_code() -> None:
    sources = list(_sources())
    assert len(sources) > 100
    findings = [finding for path in sources for finding in _findings(path)]
    assert findings == []


def test_the_scanner_sees_what_it_looks_for(tmp_path: Path) -> None:
    # The scan above must be able to fail: a file with each pattern is caught.
    bad = tmp_path / "probe.py"
    bad.write_text(
        "import yaml, httpx, subprocess\n"
        "eval('1')\n"
        "yaml.load('a')\n"
        "httpx.AsyncClient(follow_redirects=True)\n"
        "subprocess.run('ls', shell=True)\n"
    )
    found = _findings(bad)
    assert len(found) == 4, found


@pytest.mark.invariant(16)
def test_bandit_finds_nothing_of_high_severity_and_only_accepted_mediums() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", *PACKAGES, "-f", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(done.stdout)
    assert report["results"] or report["metrics"], done.stderr[-500:]
    high = [r for r in report["results"] if r["issue_severity"] == "HIGH"]
    assert high == [], [(r["filename"], r["line_number"], r["issue_text"]) for r in high]
    medium = {
        (r["filename"], r["test_id"]) for r in report["results"] if r["issue_severity"] == "MEDIUM"
    }
    assert medium <= ACCEPTED_MEDIUM, medium - ACCEPTED_MEDIUM


def _site_dirs() -> set[Path]:
    dirs = {Path(sysconfig.get_paths()[name]) for name in ("purelib", "platlib")}
    dirs |= {Path(p) for p in site.getsitepackages()}
    return {d for d in dirs if d.is_dir()}


def test_site_packages_hold_only_known_pth_files() -> None:
    found = {path for directory in _site_dirs() for path in directory.glob("*.pth")}
    unknown = sorted(path.name for path in found if path.name not in ALLOWED_PTH)
    assert unknown == [], f"unexpected start-up hooks in site-packages: {unknown}"
    for path in found:
        for line in path.read_text(errors="replace").splitlines():
            # A `.pth` line starting with `import` runs code; only setuptools' own may.
            if line.startswith("import") and path.name != "distutils-precedence.pth":
                pytest.fail(f"{path.name} runs code at start-up: {line[:80]}")
