"""A network namespace joined to this one by a veth pair: a peer that is not loopback.

Addresses come from 198.18.0.0/15 (RFC 2544, benchmarking), used only on this pair, so no test
traffic can leave the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

HOST_ADDRESS = "198.18.5.1"
PEER_ADDRESS = "198.18.5.2"


class NetnsUnavailable(RuntimeError):
    """This machine cannot make a namespace (no `ip`, or not allowed)."""


class PeerNamespace:
    """A namespace holding PEER_ADDRESS; this side of the pair holds HOST_ADDRESS."""

    def __init__(self) -> None:
        suffix = os.getpid() % 100000
        self.name = f"aiproxy-a5-{suffix}"
        self._host_link = f"a5h{suffix}"
        self._peer_link = f"a5p{suffix}"

    def _ip(self, *args: str, netns: bool = False) -> None:
        command = ["ip", "netns", "exec", self.name, "ip", *args] if netns else ["ip", *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)
        if done.returncode != 0:
            raise NetnsUnavailable(f"{' '.join(command)}: {done.stderr.strip()}")

    def __enter__(self) -> PeerNamespace:
        if shutil.which("ip") is None:
            raise NetnsUnavailable("no `ip` command")
        try:
            self._ip("netns", "add", self.name)
            self._ip(
                "link", "add", self._host_link, "type", "veth", "peer", "name", self._peer_link
            )
            self._ip("link", "set", self._peer_link, "netns", self.name)
            self._ip("addr", "add", f"{HOST_ADDRESS}/30", "dev", self._host_link)
            self._ip("link", "set", self._host_link, "up")
            self._ip("addr", "add", f"{PEER_ADDRESS}/30", "dev", self._peer_link, netns=True)
            self._ip("link", "set", self._peer_link, "up", netns=True)
            self._ip("link", "set", "lo", "up", netns=True)
        except NetnsUnavailable:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["ip", "link", "del", self._host_link], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)

    def python(self, code: str, args: Sequence[str] = ()) -> str:
        """Run Python code inside the namespace; its stdout."""
        command = ["ip", "netns", "exec", self.name, sys.executable, "-c", code, *args]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
        return done.stdout
