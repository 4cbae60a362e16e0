"""Run the issue-10 benchmark set and print one table: direct, LiteLLM, Portkey, aiproxyapi.

Each gateway is measured by the shared harness (../shared/bench/bench.py) with the gateway pinned
to one core, its own direct baseline measured interleaved in the same run; a second, short run
per gateway measures one stream at a time (time-to-first-byte overhead without queueing); then
bench/translated.py measures a translated stream (Anthropic client, OpenAI-compatible upstream)
against passthrough. Results land in bench/results/ (git-ignored); the table is printed and
written there as compare-<stamp>.md and .json. A peer that is not installed or fails is shown as
n/a with the reason. Normally started by bench/compare.sh, which installs and prepares first:

    python3 bench/compare.py [--quick] [--only aiproxyapi,portkey] [-- extra bench.py args]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"
GATEWAYS = ("litellm", "portkey", "aiproxyapi")
TITLES = {"direct": "direct (limit)", "litellm": "LiteLLM", "portkey": "Portkey"}

Record = dict[str, Any]


def harness() -> Path:
    """The shared harness: $BENCH_HARNESS, else the nearest `shared/bench` above the project."""
    if "BENCH_HARNESS" in os.environ:
        return Path(os.environ["BENCH_HARNESS"])
    for parent in HERE.parents:
        if (parent / "shared" / "bench" / "bench.py").is_file():
            return parent / "shared" / "bench"
    sys.exit("the shared harness was not found: set BENCH_HARNESS to its directory")


def bench_command(gateway: str, name: str, extra: list[str]) -> list[str]:
    """The harness command measuring `gateway` under the result name `name`."""
    if gateway == "aiproxyapi":
        return ["bash", str(HERE / "run.sh"), "--no-prepare", "--name", name, *extra]
    return ["bash", str(harness() / "run.sh"), gateway, "--name", name, *extra]


def run_bench(gateway: str, name: str, extra: list[str], out_dir: Path, log: Path) -> Record:
    """Run the harness once; its result record, or {"error": reason}."""
    own = re.compile(re.escape(name) + r"-\d{8}-\d{6}\.json")

    def results() -> set[Path]:
        return {path for path in out_dir.glob("*.json") if own.fullmatch(path.name)}

    before = results()
    command = bench_command(gateway, name, [*extra, "--out-dir", str(out_dir)])
    print(f"[compare] {name}: {' '.join(command)}", file=sys.stderr, flush=True)
    with log.open("ab") as sink:
        code = subprocess.call(command, stdout=sink, stderr=subprocess.STDOUT)
    made = sorted(results() - before, key=os.path.getmtime)
    if not made:
        return {"error": f"the harness wrote no result (exit {code}); see {log}: {_tail(log)}"}
    record: Record = json.loads(made[-1].read_text())
    mode = _pinned(record)
    if mode is None:
        return {"error": f"no pinned run in {made[-1].name}"}
    if mode.get("error"):
        return {"error": " ".join(str(mode["error"]).split())[:300], "file": made[-1].name}
    record["file"] = made[-1].name
    return record


def run_translated(extra: list[str], out_dir: Path, stamp: str, log: Path) -> Record:
    """Passthrough against translated streams through aiproxyapi (bench/translated.py)."""
    tools_py = (
        Path(os.environ.get("BENCH_PREFIX", "/tmp/gwbench")) / "venv-tools" / "bin" / "python"
    )
    out = out_dir / f"translated-{stamp}.json"
    command = [str(tools_py), str(HERE / "translated.py"), *extra, "--out", str(out)]
    print(f"[compare] translated: {' '.join(command)}", file=sys.stderr, flush=True)
    with log.open("ab") as sink:
        code = subprocess.call(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "BENCH_HARNESS": str(harness())},
        )
    if not out.is_file():
        return {"error": f"translated.py failed (exit {code}): {_tail(log)}"}
    record: Record = json.loads(out.read_text())
    return record


def _tail(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return " ".join(lines[-1].split())[:200] if lines else ""


def _pinned(record: Record) -> Record | None:
    return next((m for m in record.get("modes", []) if m.get("mode") == "pinned"), None)


def _runs(record: Record, target: str, scenario: str, concurrency: int) -> list[Record]:
    mode = _pinned(record) or {}
    if target != "direct":  # the harness names the gateway's runs after the result name
        target = str(record.get("name", target))
    found = [
        run
        for run in mode.get("runs", [])
        if run.get("target") == target
        and run.get("scenario") == scenario
        and run.get("concurrency") == concurrency
        and not run.get("error")
    ]
    return sorted(found, key=lambda run: run.get("rep", 0))


# --- metrics: each picks, from one gateway's records, one value per repetition ----------------

Pick = Callable[[Record, str], list[float]]


def _field(
    scenario: str, concurrency: int, get: Callable[[Record], Any], key: str = "main"
) -> Pick:
    def pick(records: Record, target: str) -> list[float]:
        record = records.get(key)
        if not record or record.get("error"):
            return []
        values = [get(run) for run in _runs(record, target, scenario, concurrency)]
        return [float(v) for v in values if v is not None]

    return pick


def _overhead(scenario: str, concurrency: int, get: Callable[[Record], Any], key: str) -> Pick:
    def pick(records: Record, target: str) -> list[float]:
        record = records.get(key)
        if target == "direct" or not record or record.get("error"):
            return []
        ours = _runs(record, target, scenario, concurrency)
        direct = {run["rep"]: run for run in _runs(record, "direct", scenario, concurrency)}
        values = []
        for run in ours:
            base = direct.get(run.get("rep"))
            if base is not None and get(run) is not None and get(base) is not None:
                values.append(float(get(run)) - float(get(base)))
        return values

    return pick


def _mode_value(name: str) -> Pick:
    def pick(records: Record, target: str) -> list[float]:
        mode = _pinned(records.get("main") or {})
        if target == "direct" or not mode or mode.get(name) is None:
            return []
        return [float(mode[name])]

    return pick


def _peak_rss(records: Record, target: str) -> list[float]:
    mode = _pinned(records.get("main") or {})
    if target == "direct" or not mode:
        return []
    peaks = [(run.get("gateway") or {}).get("rss_max_mb") for run in mode.get("runs", [])]
    peaks = [p for p in peaks if p is not None]
    return [float(max(peaks))] if peaks else []


def _rss_return(records: Record, target: str) -> list[float]:
    mode = _pinned(records.get("main") or {})
    if target == "direct" or not mode:
        return []
    warm, after = mode.get("rss_after_warmup_mb"), mode.get("rss_idle_after_load_mb")
    if not warm or after is None:
        return []
    return [100.0 * (float(after) - float(warm)) / float(warm)]


def _translated_ratio(records: Record, target: str) -> list[float]:
    translated = records.get("translated")
    if target != "aiproxyapi" or not translated or translated.get("error"):
        return []
    runs = translated.get("runs", {})
    pairs = zip(runs.get("passthrough", []), runs.get("translated", []), strict=False)
    return [
        float(p["streams_per_s"]) / float(t["streams_per_s"])
        for p, t in pairs
        if p.get("streams_per_s") and t.get("streams_per_s")
    ]


def _translated_cpu(scenario: str) -> Pick:
    def pick(records: Record, target: str) -> list[float]:
        translated = records.get("translated")
        if target != "aiproxyapi" or not translated or translated.get("error"):
            return []
        return [
            float(run["cpu_ms_per_stream"])
            for run in translated.get("runs", {}).get(scenario, [])
            if run.get("cpu_ms_per_stream") is not None
        ]

    return pick


def _cpu(run: Record) -> Any:
    return (run.get("gateway") or {}).get("cpu_ms_per_req")


def _ttfb_p50(run: Record) -> Any:
    return (run.get("ttfb_ms") or {}).get("p50")


def _drained(get: Callable[[Record], Any]) -> Pick:
    return _field("slow-drain", 1000, get)


Peers = dict[str, float | None]
"""The peers' values of a row (their repetitions averaged), by gateway name."""


def _at_least(factor: float, peer: str) -> Callable[[float, Peers], bool]:
    def check(value: float, peers: Peers) -> bool:
        reference = peers.get(peer)
        return reference is None or value >= factor * reference

    return check


def _both(*checks: Callable[[float, Peers], bool]) -> Callable[[float, Peers], bool]:
    return lambda value, peers: all(check(value, peers) for check in checks)


def _at_most(limit: float) -> Callable[[float, Peers], bool]:
    return lambda value, _peers: value <= limit


# (label, pick, digits, target text, check(value, peers) -> bool | None)
ROWS: list[tuple[str, Pick, int, str, Callable[[float, Peers], bool] | None]] = [
    (
        "non-stream RPS, 64 concurrent",
        _field("nonstream", 64, lambda r: r.get("rps")),
        0,
        ">= 2x Portkey, >= 20x LiteLLM",
        _both(_at_least(2, "portkey"), _at_least(20, "litellm")),
    ),
    (
        "added latency p50, 1 concurrent (ms)",
        _overhead("nonstream", 1, lambda r: r.get("p50_ms"), "main"),
        2,
        "<= 0.5 ms",
        _at_most(0.5),
    ),
    (
        "added latency p99, 1 concurrent (ms)",
        _overhead("nonstream", 1, lambda r: r.get("p99_ms"), "main"),
        2,
        "<= 2 ms",
        _at_most(2.0),
    ),
    (
        "CPU per request, passthrough, 64 concurrent (ms)",
        _field("nonstream", 64, _cpu),
        2,
        "<= 0.4 ms",
        _at_most(0.4),
    ),
    (
        "CPU per translated stream, translated.py (ms)",
        _translated_cpu("translated"),
        2,
        "<= 0.8 ms",
        _at_most(0.8),
    ),
    ("CPU per passthrough stream, translated.py (ms)", _translated_cpu("passthrough"), 2, "", None),
    (
        "streams/s, 64 concurrent streams (20 events)",
        _field("stream", 64, lambda r: r.get("ok_per_s")),
        0,
        ">= 1.5x Portkey",
        _at_least(1.5, "portkey"),
    ),
    (
        "stream TTFB overhead p50, one stream at a time (ms)",
        _overhead("stream", 1, _ttfb_p50, "single"),
        2,
        "<= 2 ms",
        _at_most(2.0),
    ),
    ("stream TTFB p50, 64 concurrent (ms)", _field("stream", 64, _ttfb_p50), 1, "", None),
    ("gateway CPU per stream, 64 concurrent (ms)", _field("stream", 64, _cpu), 2, "", None),
    (
        "translated stream (Anthropic client, Chat upstream): passthrough / translated streams/s",
        _translated_ratio,
        2,
        "<= 1.5",
        _at_most(1.5),
    ),
    (
        "1,000 connections, upstream +50 ms: RPS (wrk)",
        _field("slow", 1000, lambda r: r.get("rps")),
        0,
        "",
        None,
    ),
    (
        "1,000 connections: success, every started request waited for (%)",
        _drained(lambda r: 100.0 * r["success_rate"] if "success_rate" in r else None),
        2,
        "100 %",
        lambda value, _peers: value >= 100.0,
    ),
    (
        "1,000 connections: p99 (ms), wrk",
        _field("slow", 1000, lambda r: r.get("p99_ms")),
        0,
        "<= 150 ms (3x upstream)",
        _at_most(150.0),
    ),
    (
        "1,000 connections: p99 (ms), every started request waited for",
        _drained(lambda r: (r.get("total_ms") or {}).get("p99")),
        0,
        "<= 150 ms (3x upstream)",
        _at_most(150.0),
    ),
    (
        "RSS idle after start (MB)",
        _mode_value("rss_idle_mb"),
        0,
        "<= 80 MB",
        _at_most(80.0),
    ),
    ("RSS after warm-up (MB)", _mode_value("rss_after_warmup_mb"), 0, "", None),
    ("RSS peak under load (MB)", _peak_rss, 0, "<= 200 MB", _at_most(200.0)),
    ("RSS idle after load (MB)", _mode_value("rss_idle_after_load_mb"), 0, "", None),
    (
        "RSS idle after load vs after warm-up (%)",
        _rss_return,
        0,
        "within 20 %",
        lambda value, _peers: abs(value) <= 20,
    ),
    ("start to serving (s)", _mode_value("startup_s"), 2, "<= 1 s", _at_most(1.0)),
]


def _cell(values: list[float], digits: int) -> str:
    return " / ".join(f"{v:,.{digits}f}" for v in values) if values else "—"


def table(results: dict[str, Record]) -> str:
    """The comparison in the issue's layout: a row per metric, a column per gateway."""
    columns = ["direct", *GATEWAYS]
    head = ["metric (pinned: the gateway gets one core)"]
    head += [TITLES.get(c, c) for c in columns] + ["target", "aiproxyapi vs target"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    # The direct baseline of aiproxyapi's run, or of the first peer's when aiproxyapi did not run.
    baseline = next(
        (
            name
            for name in ("aiproxyapi", *GATEWAYS)
            if (results.get(name) or {}).get("main") and not results[name]["main"].get("error")
        ),
        "aiproxyapi",
    )
    for label, pick, digits, target, check in ROWS:
        cells, ours = [], []
        for column in columns:
            records = results.get(baseline if column == "direct" else column) or {}
            if column != "direct" and (records.get("main") or {}).get("error"):
                cells.append("n/a")
                continue
            values = pick(records, column)
            cells.append(_cell(values, digits))
            if column == "aiproxyapi":
                ours = values
        verdict = ""
        if check is not None and ours:
            peers: Peers = {}
            for peer in ("litellm", "portkey"):
                found = pick(results.get(peer) or {}, peer)
                peers[peer] = sum(found) / len(found) if found else None
            worst = [v for v in ours if not check(v, peers)]
            verdict = "met" if not worst else f"missed ({_cell(worst, digits)})"
        elif check is not None:
            verdict = "not measured"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target or '—'} | {verdict} |")
    notes = []
    for name in GATEWAYS:
        for key in ("main", "single"):
            error = (results.get(name, {}).get(key) or {}).get("error")
            if error:
                notes.append(f"- {TITLES.get(name, name)} ({key} run): n/a, {error}")
        version = (results.get(name, {}).get("main") or {}).get("gateway_version")
        if version:
            notes.append(f"- {TITLES.get(name, name)}: {version}")
    translated = results.get("aiproxyapi", {}).get("translated") or {}
    if translated.get("error"):
        notes.append(f"- translated stream: n/a, {translated['error']}")
    values = "Several values in a cell are the repetitions (r1 / r2 ...), never averaged."
    return "\n".join([*lines, "", values, *notes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="one repetition (pinned only, as always)"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="repetitions (default 2, --quick 1)"
    )
    parser.add_argument(
        "--only", default=",".join(GATEWAYS), help="gateways to run (comma-separated)"
    )
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    parser.add_argument("--no-translated", action="store_true", help="skip bench/translated.py")
    parser.add_argument(
        "--skip", action="append", default=[], help="NAME=REASON: report a peer as n/a"
    )
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="after --: passed to bench.py")
    args = parser.parse_args()
    extra = [a for a in args.bench_args if a != "--"]
    repeats = args.repeats or (1 if args.quick else 2)
    out_dir: Path = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    log = out_dir / f"compare-{stamp}.log"
    common = ["--modes", "pinned", "--repeats", str(repeats), *extra]
    skipped = dict(item.split("=", 1) for item in args.skip if "=" in item)
    wanted = [g for g in GATEWAYS if g in args.only.split(",")]
    results: dict[str, Record] = {}
    for gateway in GATEWAYS:
        if gateway not in wanted or gateway in skipped:
            reason = skipped.get(gateway, "not run (--only)")
            results[gateway] = {"main": {"error": reason}}
            continue
        main_run = run_bench(gateway, gateway, common, out_dir, log)
        results[gateway] = {"main": main_run}
        if not main_run.get("error"):
            single = [*common, "--scenarios", "stream", "--stream-concurrency", "1"]
            results[gateway]["single"] = run_bench(gateway, f"{gateway}-c1", single, out_dir, log)
    if "aiproxyapi" in wanted and not args.no_translated:
        duration = _option(extra, "--duration") or "10"
        translated_args = ["--repeats", str(repeats), "--duration", duration]
        results["aiproxyapi"]["translated"] = run_translated(translated_args, out_dir, stamp, log)
    text = table(results)
    files = {
        name: {key: rec.get("file") for key, rec in parts.items() if isinstance(rec, dict)}
        for name, parts in results.items()
    }
    (out_dir / f"compare-{stamp}.md").write_text(text + "\n")
    (out_dir / f"compare-{stamp}.json").write_text(
        json.dumps({"files": files, "table": text}, indent=1)
    )
    print(text)
    print(
        f"\n[compare] wrote {out_dir / f'compare-{stamp}.md'} (harness output: {log})",
        file=sys.stderr,
    )


def _option(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if match := re.fullmatch(re.escape(name) + r"=(.+)", arg):
            return match.group(1)
    return None


if __name__ == "__main__":
    main()
