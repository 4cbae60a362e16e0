"""Every invariant of reliability.md section 4 has a test, and docs/invariants.md says which."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support import invariant_map
from tests.support.invariant_map import INVARIANTS, MarkingError, render, scan


def covers(entry: str, nodeid: str) -> bool:
    return nodeid == entry or nodeid.startswith((f"{entry}::", f"{entry}["))


def test_every_invariant_has_a_marked_test() -> None:
    mapping = scan()
    bare = [n for n in INVARIANTS if not mapping[n]]
    assert bare == [], f"invariants without a marked test: {bare}"


def test_the_doc_matches_the_markers() -> None:
    current = invariant_map.DOC_PATH.read_text(encoding="utf-8")
    assert current == render(scan()), (
        "docs/invariants.md is stale: uv run --frozen python -m tests.support.invariant_map --write"
    )


def test_every_marked_test_collected_here_is_in_the_map(request: pytest.FixtureRequest) -> None:
    # pytest's own view of the markers (for what this run collected) agrees with the source scan.
    mapping = scan()
    for item in request.session.items:
        for mark in item.iter_markers("invariant"):
            for number in mark.args:
                assert number in INVARIANTS, f"{item.nodeid}: no invariant {number}"
                assert any(covers(entry, item.nodeid) for entry in mapping[number]), (
                    f"{item.nodeid} is marked invariant({number}) but the map misses it"
                )


def write(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "tests" / "test_sample.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_the_scan_reads_functions_classes_modules_and_params(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invariant_map, "ROOT", tmp_path)
    write(
        tmp_path,
        """
        import pytest
        pytestmark = [pytest.mark.e2e, pytest.mark.invariant(17)]

        @pytest.mark.invariant(1, 2)
        def test_one(): ...

        @pytest.mark.invariant(3)
        class TestGroup:
            @pytest.mark.invariant(4)
            async def test_two(self): ...

        @pytest.mark.parametrize("x", [1, pytest.param(2, marks=pytest.mark.invariant(5))])
        def test_three(x): ...

        def test_unmarked(): ...
        """,
    )
    mapping = scan(tmp_path / "tests")
    assert mapping[1] == mapping[2] == ["tests/test_sample.py::test_one"]
    assert mapping[3] == ["tests/test_sample.py::TestGroup"]
    assert mapping[4] == ["tests/test_sample.py::TestGroup::test_two"]
    assert mapping[5] == ["tests/test_sample.py::test_three"]
    assert mapping[17] == ["tests/test_sample.py"]
    assert all(mapping[n] == [] for n in range(6, 17))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("@pytest.mark.invariant(18)\ndef test_x(): ...", "no invariant 18"),
        ("@pytest.mark.invariant('1')\ndef test_x(): ...", "literal integers"),
        ("@pytest.mark.invariant\ndef test_x(): ...", "needs its numbers"),
        ("@pytest.mark.invariant()\ndef test_x(): ...", "one or more"),
        ("@pytest.mark.invariant(2)\ndef helper(): ...", "not a test"),
    ],
    ids=["out-of-range", "not-an-int", "bare", "empty", "on-a-helper"],
)
def test_the_scan_refuses_markers_that_would_mislead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, message: str
) -> None:
    monkeypatch.setattr(invariant_map, "ROOT", tmp_path)
    write(tmp_path, "import pytest\n" + source + "\n")
    with pytest.raises(MarkingError, match=message):
        scan(tmp_path / "tests")


def test_markers_in_a_shared_base_module_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests of a base class are collected under the subclass's node id, which the map cannot know.
    monkeypatch.setattr(invariant_map, "ROOT", tmp_path)
    base = tmp_path / "tests" / "contract.py"
    base.parent.mkdir(parents=True)
    base.write_text(
        "import pytest\nclass Contract:\n    @pytest.mark.invariant(7)\n    def test_x(self): ...\n"
    )
    with pytest.raises(MarkingError, match=r"test_\*\.py module"):
        scan(tmp_path / "tests")


def test_an_uncovered_invariant_is_reported_in_the_doc() -> None:
    text = render({n: [] for n in INVARIANTS})
    assert text.count("(no test yet)") == len(INVARIANTS)
    for number, statement in INVARIANTS.items():
        assert f"## {number}. {statement}" in text
