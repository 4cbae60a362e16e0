"""A process that writes auth records, config, state and usage through the real store, forever.

Run as ``python -m tests.faults._writer ROOT``; the kill tests SIGKILL it at random moments.
Every version of every file is a pure function of (name, generation), so the checker can tell
the old version from the new one byte for byte. A line ``<kind> <name> <gen>`` goes to stdout
once a write has returned (flushed), so the checker knows the newest version that must be whole.
After its start-up sweep it says ``ready`` and waits for a line on stdin before writing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path

from aiproxyapi.usage.aggregate import UsageBook
from aiproxyapi.usage.persist import UsageStore
from storage import FileStore

AUTH_NAMES = ("claude-a.json", "codex-b.json", "gemini-c.json")
STATE_KEY = "cooldowns"


def auth_version(name: str, generation: int) -> bytes:
    """The record `name` holds at `generation`; tokens change each time, size varies."""
    digest = hashlib.sha256(f"{name}:{generation}".encode()).hexdigest()
    record = {
        "type": name.split("-", maxsplit=1)[0],
        "access_token": f"at-{digest[:24]}",
        "refresh_token": f"rt-{digest[24:48]}",
        "generation": generation,
        "pad": digest * (1 + generation % 40),  # from 64 bytes to 2.5 KiB
    }
    return json.dumps(record, indent=2).encode()


def config_version(generation: int) -> bytes:
    """config.yaml at `generation`."""
    keys = "\n".join(f"  - sk-client-{generation}-{i}" for i in range(1 + generation % 30))
    return f"# generation {generation}\nport: 8317\napi-keys:\n{keys}\n".encode()


def state_version(generation: int) -> bytes:
    """A state document at `generation`."""
    return json.dumps({"generation": generation, "rows": list(range(generation % 200))}).encode()


def report(kind: str, name: str, generation: int) -> None:
    sys.stdout.write(f"{kind} {name} {generation}\n")
    sys.stdout.flush()


async def main(root: Path) -> None:
    store = FileStore(root / "auths", root / "config.yaml")
    await store.start()  # sweeps the temp files an earlier kill left
    usage = UsageStore(root / "usage.json", UsageBook(), flush_interval=60)
    usage.load()
    start = int((root / "generation").read_text()) if (root / "generation").exists() else 0
    report("ready", "-", start)
    await asyncio.to_thread(sys.stdin.readline)  # the checker looks for leftovers, then says go
    generation = start
    while True:
        generation += 1
        (root / "generation.tmp").write_text(str(generation))
        (root / "generation.tmp").replace(root / "generation")
        for name in AUTH_NAMES:
            await store.write_auth(name, auth_version(name, generation))
            report("auth", name, generation)
        await store.write_config(config_version(generation))
        report("config", "config.yaml", generation)
        await store.write_state(STATE_KEY, state_version(generation))
        report("state", STATE_KEY, generation)
        usage.mark_dirty()
        await usage.flush()
        report("usage", "usage.json", generation)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
