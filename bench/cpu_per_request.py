"""Gateway CPU time per request under a short wrk load: a figure that other load moves far less.

Starts the shared harness's nginx mock on CPU 1 and the gateway (bench/gateway.sh) on CPU 0, warms
up, then for each concurrency runs wrk and reports the gateway's utime+stime delta divided by the
requests answered, next to RPS and latency (only indicative on a busy machine).

`--against DIR` also starts the gateway of another checkout (e.g. `git archive BASE | tar -x -C
DIR`, with DIR/.venv linked to this one) on the same core and alternates runs between the two:
on a shared machine the paired ratio is the figure to trust, not either absolute value.
`--profile FILE` records a py-spy profile of the last run (`--profile-format raw` for text).

    python3 bench/cpu_per_request.py --concurrency 1,64 --duration 5
    python3 bench/cpu_per_request.py --against /tmp/base --concurrency 64 --duration 3 --repeat 6
    python3 bench/cpu_per_request.py --kind slow --concurrency 1000 --duration 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
_NEAR = [up / "shared" / "bench" for up in HERE.parents]
HARNESS = Path(
    os.environ.get("BENCH_HARNESS") or next((p for p in _NEAR if p.is_dir()), _NEAR[0])
).resolve()
sys.path.insert(0, str(HARNESS))

import mock  # noqa: E402  (the harness's nginx mock)

CLK = os.sysconf("SC_CLK_TCK")
KEY = "sk-bench-client-key"
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {
        "role": "user",
        "content": "In three sentences, explain what an AI gateway does and why its latency matters.",
    },
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, all its threads included."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK


def wait_ready(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status < 500:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gateway not ready at {url}")


def wrk(url: str, body: str, conc: int, duration: float, workdir: Path) -> dict[str, object]:
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{body}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {KEY}"\n'
    )
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conc}", f"-d{int(duration)}s"]
    cmd += ["--timeout", "30s", "--latency", "-s", str(script), url]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=duration + 60)
    out = proc.stdout
    found = re.search(r"(\d+) requests in", out)
    if proc.returncode or found is None:
        raise RuntimeError(f"wrk failed: {proc.stderr or out}")
    total = int(found.group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    return {
        "ok": total - (int(bad.group(1)) if bad else 0),
        "socket_errors": errors.group(1) if errors else "",
        "p50": lat.get("50", "?"),
        "p99": lat.get("99", "?"),
    }


class Gateway:
    """One gateway process of a checkout, started by its bench/gateway.sh on CPU 0."""

    def __init__(self, name: str, checkout: Path, bases: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = free_port()
        script = str(checkout / "bench" / "gateway.sh")
        upstreams = [bases["fast"], bases["stream"], bases["slow"]]
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", "bash", script, str(self.port), *upstreams],
            cwd=checkout,  # `python -m aiproxyapi` imports the checkout's own package
            stdout=(workdir / f"gateway-{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--concurrency", default="1,64")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=1, help="runs per concurrency (and gateway)")
    ap.add_argument("--kind", choices=["fast", "slow"], default="fast")
    ap.add_argument("--model", default="", help="model name to ask for (default mock-<kind>)")
    ap.add_argument("--path", default="/v1/chat/completions")
    ap.add_argument("--against", default="", help="another checkout to alternate with")
    ap.add_argument("--profile", default="", help="py-spy profile of the last run to this file")
    ap.add_argument("--profile-format", default="flamegraph")
    a = ap.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="cpu-per-request."))
    nginx = mock.NginxMock(str(workdir / "nginx"), free_port(), 50, "1").start()
    gateways = [Gateway("this", HERE.parent, nginx.bases(), workdir)]
    if a.against:
        gateways.insert(0, Gateway("against", Path(a.against).resolve(), nginx.bases(), workdir))
    body = json.dumps(
        {
            "model": a.model or f"mock-{a.kind}",
            "messages": MESSAGES,
            "max_tokens": 128,
            "temperature": 0.7,
        },
        separators=(",", ":"),
    )
    try:
        for gw in gateways:
            wait_ready(gw.base + "/healthz")
            wrk(gw.base + a.path, body, 16, a.warmup, workdir)
        levels = [int(c) for c in a.concurrency.split(",")]
        for i, conc in enumerate(levels):
            costs: dict[str, list[float]] = {gw.name: [] for gw in gateways}
            for rep in range(a.repeat):
                # Alternate which gateway goes first, so a burst of noise hits both alike.
                for gw in gateways if rep % 2 == 0 else gateways[::-1]:
                    last = i == len(levels) - 1 and rep == a.repeat - 1 and gw.name == "this"
                    costs[gw.name].append(run(a, gw, body, conc, workdir, profile=last))
            for name, values in costs.items():
                if len(values) > 1:
                    print(
                        f"{name:<8} c={conc:<5} cpu/req median {statistics.median(values):.3f} ms"
                        f" min {min(values):.3f} ms over {len(values)} runs"
                    )
            if a.against:
                ratios = [t / b for t, b in zip(costs["this"], costs["against"], strict=True)]
                print(f"c={conc}: this/against paired ratio median {statistics.median(ratios):.3f}")
    finally:
        for gw in gateways:
            gw.stop()
        nginx.stop()


def run(
    a: argparse.Namespace, gw: Gateway, body: str, conc: int, workdir: Path, *, profile: bool
) -> float:
    """One wrk run against `gw`; its CPU ms per answered request."""
    spy = None
    if a.profile and profile:
        py_spy = shutil.which("py-spy") or "/root/.local/bin/py-spy"
        timing = ["-d", str(int(a.duration)), "-r", "200", "--nonblocking"]
        spy = subprocess.Popen(
            [
                py_spy,
                "record",
                "-p",
                str(gw.proc.pid),
                "-o",
                a.profile,
                "-f",
                a.profile_format,
                *timing,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    before = cpu_seconds(gw.proc.pid)
    t0 = time.monotonic()
    r = wrk(gw.base + a.path, body, conc, a.duration, workdir)
    wall = time.monotonic() - t0
    used = cpu_seconds(gw.proc.pid) - before
    if spy is not None:
        spy.wait(timeout=60)
    ok = max(int(str(r["ok"])), 1)
    cost = used / ok * 1000
    print(
        f"{gw.name:<8} c={conc:<5} ok={ok:<7} rps={ok / wall:8.0f}  cpu/req={cost:6.3f} ms"
        f"  cpu={used / wall * 100:4.0f}%  p50={r['p50']} p99={r['p99']}"
        + (f"  errors: {r['socket_errors']}" if r["socket_errors"] else ""),
        flush=True,
    )
    return cost


if __name__ == "__main__":
    main()
