"""Client-key comparison timing (reliability.md A2): a micro-benchmark, not a test.

Times `ClientKeys.authenticate` for three kinds of wrong key against one real key: a random
key of the same length, one sharing the real key's first 31 characters, and one of another
length. Keys are looked up by their SHA-256 digest, so the three should not differ; the Welch
t-test between prefix-match and no-match is printed (p > 0.01 expected). Run on a quiet
machine::

    uv run --frozen python bench/security/key_timing.py [--calls 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import time
import uuid

from aiproxyapi.access import ClientKeys
from aiproxyapi.errors import ClientRequestError


def _sample(keys: ClientKeys, presented: str, calls: int, batch: int) -> list[float]:
    headers = {"authorization": f"Bearer {presented}"}
    samples: list[float] = []
    for _ in range(calls // batch):
        start = time.perf_counter_ns()
        for _ in range(batch):
            with contextlib.suppress(ClientRequestError):
                keys.authenticate(headers, {})
        samples.append((time.perf_counter_ns() - start) / batch)
    return samples


def _welch(a: list[float], b: list[float]) -> tuple[float, float]:
    """(t, two-sided p) of Welch's t-test; p from the normal law (the samples are large)."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    t = (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va + vb)
    return t, math.erfc(abs(t) / math.sqrt(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    real = "sk-" + uuid.uuid4().hex
    keys = ClientKeys([real])
    cases = {
        "random": "sk-" + uuid.uuid4().hex,
        "prefix31": real[:31] + "zzzz",
        "other-length": "sk-short",
    }
    results = {name: _sample(keys, key, args.calls, args.batch) for name, key in cases.items()}
    for name, samples in results.items():
        print(
            f"{name:>13}: mean {statistics.fmean(samples):8.1f} ns  sd {statistics.stdev(samples):6.1f}"
        )
    t, p = _welch(results["prefix31"], results["random"])
    print(f"prefix31 vs random: Welch t = {t:.2f}, p = {p:.3f} ({'ok' if p > 0.01 else 'DIFFERS'})")


if __name__ == "__main__":
    main()
