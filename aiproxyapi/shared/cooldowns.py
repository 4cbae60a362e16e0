"""Cooldowns, blocks and resets shared by every instance: a 429 seen by one rests it for all.

The pool keeps deciding on its own fast, synchronous state; this :class:`SharedCooldowns` is
its listener. Each rest this instance starts is sent to Redis in the background (never on the
request's way): a key per (credential, model) pair holding ``until|level|reason`` with the
rest as its TTL, merged by a script that never shortens a rest, an index of the pairs by
expiry, and a note on the ``pool`` channel for instant fan-out. Every instance applies the
notes of the others to its own state (never shortening a rest), and on start and after every
outage it first sends what it decided alone, then loads everything Redis holds.

Times travel as wall-clock milliseconds (monotonic clocks differ between processes).
Credentials are named by their pool id (a hash for API keys, the record name for OAuth
accounts): no key or token ever reaches Redis. Blocks (an account whose refresh failed) live
in one hash; a management reset clears a credential's pairs (or all) everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from functools import partial
from typing import Any

import msgspec

from aiproxyapi.pool import PoolState
from aiproxyapi.pool.state import ModelCooldown
from aiproxyapi.shared.link import SYNC_TIMEOUT, RedisLink, RedisUnavailable

__all__ = ["SharedCooldowns"]

log = logging.getLogger("aiproxyapi.shared")

CHANNEL = "pool"
_BATCH = 500

# KEYS: pair key, index. ARGV: until ms, level, reason, member, now ms.
_MERGE = """
local untilms, level, reason = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local now = tonumber(ARGV[5])
local current = redis.call('GET', KEYS[1])
if current then
  local cu, cl, cr = string.match(current, '^(%d+)|(%d+)|(.*)$')
  if cu and tonumber(cu) > untilms then untilms, reason = tonumber(cu), cr end
  if cl and tonumber(cl) > level then level = tonumber(cl) end
end
if untilms <= now then return 0 end
redis.call('SET', KEYS[1], untilms .. '|' .. level .. '|' .. reason, 'PX', untilms - now)
redis.call('ZADD', KEYS[2], untilms, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return 1
"""

# KEYS: index. ARGV: key prefix of the pairs, now ms. Returns member, value, member, value...
_SNAPSHOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local found = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local value = redis.call('GET', ARGV[1] .. member)
  if value then
    found[#found + 1] = member
    found[#found + 1] = value
  end
end
return found
"""

# KEYS: index. ARGV: key prefix of the pairs, credential id ('' for every credential).
_RESET = """
local cleared = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if ARGV[2] == '' or string.sub(member, 1, #ARGV[2] + 1) == ARGV[2] .. '|' then
    redis.call('DEL', ARGV[1] .. member)
    redis.call('ZREM', KEYS[1], member)
    cleared = cleared + 1
  end
end
return cleared
"""


class _Note(msgspec.Struct, frozen=True, omit_defaults=True):
    """One change on the `pool` channel."""

    origin: str
    op: str
    """`cool`, `block`, `unblock` or `reset`."""
    credential: str = ""
    model: str = ""
    until: int = 0
    """Wall-clock milliseconds at which the rest ends."""
    level: int = 0
    reason: str = ""


_decode = msgspec.json.Decoder(_Note).decode


class SharedCooldowns:
    """The pool's listener: sends this instance's rests to Redis, applies the others'."""

    def __init__(self, link: RedisLink, state: PoolState) -> None:
        self._link = link
        self._state = state
        self.origin = secrets.token_hex(6)
        """This instance's name on the channel, so its own notes are not applied twice."""
        self._index = link.key("cooldowns")
        self._pairs = link.key("cooldown", "")
        self._blocks = link.key("blocked")
        self._merge: Any = link.client.register_script(_MERGE)
        self._snapshot: Any = link.client.register_script(_SNAPSHOT)
        self._reset: Any = link.client.register_script(_RESET)
        self._outgoing: dict[tuple[str, str, str], _Note] = {}
        self._sticky: dict[tuple[str, str, str], _Note] = {}
        """Blocks, unblocks and resets not sent yet: sent first when Redis is back."""
        self._remote_blocks: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None
        state.listener = self
        link.subscribe(CHANNEL, self._receive)
        link.on_reconnect(self.resync)

    # -- the pool's listener ---------------------------------------------------------------

    def cooled(self, credential_id: str, model: str, cooldown: ModelCooldown) -> None:
        """Send a rest this instance started (in the background)."""
        until = self._wall_ms(cooldown.until)
        note = _Note(
            self.origin, "cool", credential_id, model, until, cooldown.level, cooldown.reason
        )
        self._queue(("cool", credential_id, model), note)

    def blocked(self, credential_id: str, reason: str) -> None:
        """Send a block."""
        self._remote_blocks.discard(credential_id)
        self._queue(
            ("block", credential_id, ""), _Note(self.origin, "block", credential_id, reason=reason)
        )

    def unblocked(self, credential_id: str) -> None:
        """Send an unblock."""
        self._remote_blocks.discard(credential_id)
        self._queue(("block", credential_id, ""), _Note(self.origin, "unblock", credential_id))

    def reset(self, credential_id: str | None) -> None:
        """Send a reset of one credential's cooldowns (None: of all)."""
        target = credential_id or ""
        for key in [k for k in self._outgoing if k[0] == "cool" and (not target or k[1] == target)]:
            del self._outgoing[key]
        self._queue(("reset", target, ""), _Note(self.origin, "reset", target))

    # -- out -------------------------------------------------------------------------------

    def _queue(self, key: tuple[str, str, str], note: _Note) -> None:
        if note.op != "cool":
            self._sticky[key] = note
        self._outgoing[key] = note
        if not self._link.up:
            return  # sent by the re-sync once Redis is back
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush(), name="cooldowns-out"
            )

    async def _flush(self) -> None:
        with contextlib.suppress(RedisUnavailable):
            # On failure the pool's rests are pushed again by the re-sync; the rest is sticky.
            await self._send_outgoing(self._link.timeout * 5)

    async def _send_outgoing(self, bound: float) -> None:
        """Send every queued note, in batches of one pipeline each."""
        while self._outgoing and self._link.up:
            batch = list(self._outgoing.items())[:_BATCH]
            for key, _note in batch:
                del self._outgoing[key]
            await self._link.call(partial(self._send, notes=[n for _, n in batch]), bound=bound)
            for key, note in batch:
                if self._sticky.get(key) is note:
                    del self._sticky[key]

    async def _send(self, client: Any, notes: list[_Note]) -> None:
        now = int(time.time() * 1000)
        async with client.pipeline(transaction=False) as pipe:
            for note in notes:
                await self._write(pipe, note, now)
                pipe.publish(self._link.key(CHANNEL), msgspec.json.encode(note))
            await pipe.execute()

    async def _write(self, pipe: Any, note: _Note, now: int) -> None:
        """Queue one note's commands on a pipeline (a script call only queues on one)."""
        if note.op == "cool":
            member = f"{note.credential}|{note.model}"
            args = [note.until, note.level, note.reason, member, now]
            await self._merge(keys=[self._pairs + member, self._index], args=args, client=pipe)
        elif note.op == "block":
            pipe.hset(self._blocks, note.credential, note.reason)
        elif note.op == "unblock":
            pipe.hdel(self._blocks, note.credential)
        else:
            await self._reset(keys=[self._index], args=[self._pairs, note.credential], client=pipe)

    # -- in --------------------------------------------------------------------------------

    def _receive(self, payload: bytes) -> None:
        try:
            note = _decode(payload)
        except msgspec.DecodeError:
            log.warning("shared cooldowns: an unreadable note on the pool channel was skipped")
            return
        if note.origin != self.origin:
            self._apply(note)

    def _apply(self, note: _Note) -> None:
        state = self._state
        if note.op == "cool":
            until = self._local(note.until)
            if until > state.clock():
                state.adopt_cooldown(note.credential, note.model, until, note.reason, note.level)
        elif note.op == "block":
            state.adopt_block(note.credential, note.reason)
            self._remote_blocks.add(note.credential)
        elif note.op == "unblock":
            state.adopt_unblock(note.credential)
            self._remote_blocks.discard(note.credential)
        elif note.op == "reset":
            state.adopt_reset(note.credential or None)

    async def resync(self) -> None:
        """After (re)connecting: send what was decided alone, then take in what Redis holds."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self._outgoing = dict(self._sticky)
        now = self._state.clock()
        for credential_id, tracked in list(self._state.credentials.items()):
            for model, cooldown in tracked.cooldowns.items():
                if cooldown.until > now:
                    self.cooled(credential_id, model, cooldown)
        await self._send_outgoing(SYNC_TIMEOUT)
        args = [self._pairs, int(time.time() * 1000)]
        found = await self._link.call(
            lambda r: self._snapshot(keys=[self._index], args=args), bound=SYNC_TIMEOUT
        )
        blocks = await self._link.call(lambda r: r.hgetall(self._blocks), bound=SYNC_TIMEOUT)
        self._take_snapshot(found, blocks)

    def _take_snapshot(self, found: list[bytes], blocks: dict[bytes, bytes]) -> None:
        pairs = 0
        for member, value in zip(found[::2], found[1::2], strict=True):
            credential, _, model = member.decode().partition("|")
            until, level, reason = value.decode().split("|", 2)
            self._apply(_Note("", "cool", credential, model, int(until), int(level), reason))
            pairs += 1
        remote = {name.decode(): reason.decode() for name, reason in blocks.items()}
        for credential in self._remote_blocks - remote.keys():
            self._state.adopt_unblock(credential)
        self._remote_blocks = set()
        for credential, reason in remote.items():
            if credential not in self._state.blocked:
                self._apply(_Note("", "block", credential, reason=reason))
            elif self._state.blocked[credential] == reason:
                self._remote_blocks.add(credential)
        if pairs or remote:
            log.info(
                "shared cooldowns: %d resting pair(s), %d blocked credential(s) loaded",
                pairs,
                len(remote),
            )

    # -- clocks ----------------------------------------------------------------------------

    def _wall_ms(self, until: float) -> int:
        return int((time.time() + (until - self._state.clock())) * 1000)

    def _local(self, until_ms: int) -> float:
        return self._state.clock() + (until_ms / 1000.0 - time.time())
