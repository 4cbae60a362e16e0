"""Translated-stream benchmark: an Anthropic client served by an OpenAI-compatible upstream.

Runs the shared harness's nginx mock (20-event Chat Completions stream), starts aiproxyapi pinned
to CPU 0 (mock and load on CPU 1), and measures, interleaved in one run:
  passthrough  POST /v1/chat/completions stream -> OpenAI-compatible upstream (same dialect)
  translated   POST /v1/messages stream         -> the same upstream (Chat -> Anthropic events)
Reports streams/s, time to first byte and gateway CPU per stream. Needs aiohttp and uvloop
(the harness's tools venv has both):

    /tmp/gwbench/venv-tools/bin/python bench/translated.py [--duration 10] [--concurrency 64]
        [--out results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _harness() -> Path:
    """The shared harness: $BENCH_HARNESS, else the nearest `shared/bench` above the project."""
    if "BENCH_HARNESS" in os.environ:
        return Path(os.environ["BENCH_HARNESS"])
    for parent in HERE.parents:
        if (parent / "shared" / "bench" / "mock.py").is_file():
            return parent / "shared" / "bench"
    return HERE.parent.parent / "shared" / "bench"


HARNESS = _harness()
sys.path.insert(0, str(HARNESS))

from mock import NginxMock  # noqa: E402  (the harness is not a package)

KEY = "sk-bench-client-key"
MESSAGES = [{"role": "user", "content": "Say something about gateways."}]
SCENARIOS = {
    "passthrough": (
        "/v1/chat/completions",
        {"model": "mock-stream", "messages": MESSAGES, "stream": True, "max_tokens": 128},
        b"[DONE]",
    ),
    "translated": (
        "/v1/messages",
        {"model": "mock-stream", "messages": MESSAGES, "stream": True, "max_tokens": 128},
        b"message_stop",
    ),
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    url: str, body: bytes, done_marker: bytes, concurrency: int, duration: float
) -> dict[str, object]:
    import aiohttp

    ttfb: list[float] = []
    ok = failed = 0
    deadline = time.perf_counter() + duration
    headers = {
        "Authorization": f"Bearer {KEY}",
        "Content-Type": "application/json",
        "anthropic-version": "2023-06-01",
    }
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            nonlocal ok, failed
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                first = None
                buffer = bytearray()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        async for chunk in response.content.iter_any():
                            first = first or time.perf_counter()
                            buffer += chunk
                        good = response.status == 200 and done_marker in buffer
                except aiohttp.ClientError:
                    good = False
                if good:
                    ok += 1
                    ttfb.append((first or time.perf_counter()) - started)
                else:
                    failed += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    ttfb.sort()
    pick = lambda q: round(ttfb[min(len(ttfb) - 1, int(q * len(ttfb)))] * 1000, 2) if ttfb else None  # noqa: E731
    return {
        "streams_per_s": round(ok / elapsed, 1),
        "ok": ok,
        "failed": failed,
        "ttfb_p50_ms": pick(0.5),
        "ttfb_p99_ms": pick(0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--port", type=int, default=18801)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    run_dir = tempfile.mkdtemp(prefix="aiproxyapi-translated-")
    mock = NginxMock(run_dir, 18081, 50, "1").start()
    bases = mock.bases()
    gateway = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            "bash",
            str(HERE / "gateway.sh"),
            str(args.port),
            bases["fast"],
            bases["stream"],
            bases["slow"],
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(Path(run_dir) / "gateway.log", "wb"),
        start_new_session=True,
    )
    try:
        deadline = time.time() + 15
        import urllib.request

        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        results: dict[str, list[dict[str, object]]] = {name: [] for name in SCENARIOS}
        for _ in range(args.repeats):
            for name, (path, body, marker) in SCENARIOS.items():
                before = cpu_seconds(gateway.pid)
                outcome = asyncio.run(
                    load(
                        f"http://127.0.0.1:{args.port}{path}",
                        json.dumps(body).encode(),
                        marker,
                        args.concurrency,
                        args.duration,
                    )
                )
                spent = cpu_seconds(gateway.pid) - before
                outcome["cpu_ms_per_stream"] = round(spent * 1000 / max(1, int(outcome["ok"])), 3)  # type: ignore[call-overload]
                results[name].append(outcome)
        print("| scenario | streams/s | TTFB p50 ms | TTFB p99 ms | CPU ms/stream | failed |")
        print("|---|---|---|---|---|---|")
        for name, runs in results.items():
            for run in runs:
                print(
                    f"| {name} | {run['streams_per_s']} | {run['ttfb_p50_ms']} | {run['ttfb_p99_ms']} | {run['cpu_ms_per_stream']} | {run['failed']} |"
                )
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            summary = {
                "concurrency": args.concurrency,
                "duration_s": args.duration,
                "runs": results,
            }
            args.out.write_text(json.dumps(summary, indent=1))
    finally:
        os.killpg(gateway.pid, signal.SIGTERM)
        gateway.wait(15)
        mock.stop()


if __name__ == "__main__":
    main()
