"""Batches of additions that Redis applies at most once, however often they are sent.

A shared counter fed from several instances must neither lose an addition nor count it
twice, also when a push times out after Redis applied it. So a batch carries an id: the
script sets the batch's marker and applies the batch in one atomic step, and a retried push
of the same batch finds the marker and does nothing. A batch also names a mark that must
exist (``<...>:seeded``): a Redis that lost its data has none, and the batch is refused
(``UNSEEDED``) so its sender can seed the state before adding to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiproxyapi.shared.link import RedisLink

__all__ = ["APPLIED", "APPLY_ONCE", "SEEN", "UNSEEDED", "Op", "apply_once"]

APPLIED, SEEN, UNSEEDED = 1, 0, -1

Op = tuple[str, str, str, str | int, int]
"""(kind, key, field, amount, ttl seconds; 0 keeps the key's expiry): kind ``f`` INCRBYFLOAT,
``hi`` HINCRBY, ``hf`` HINCRBYFLOAT, ``s`` SADD field, ``d`` HDEL field, ``z`` ZREM field."""

# A batch of additions applied at most once. KEYS[1] is the batch's marker, KEYS[2] the key
# that says Redis holds the state the batch adds to (the same key as KEYS[1] for the batch
# that seeds it), KEYS[3..] the targets. ARGV[1] is the marker's lifetime ('0': for good),
# then per target an (op, field, amount, ttl) quad: op 'f' INCRBYFLOAT, 'hi' HINCRBY,
# 'hf' HINCRBYFLOAT, 's' SADD field, 'd' HDEL field, 'z' ZREM field; ttl '0' keeps the key's
# expiry as it is. -> 1 applied, 0 applied before, -1 unseeded (nothing done).
APPLY_ONCE = """
if KEYS[1] ~= KEYS[2] and redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local fresh
if ARGV[1] == '0' then
  fresh = redis.call('SET', KEYS[1], '1', 'NX')
else
  fresh = redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1])
end
if not fresh then return 0 end
for i = 3, #KEYS do
  local at = 4 * (i - 3) + 2
  local op, field, amount, ttl = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  if op == 'f' then
    redis.call('INCRBYFLOAT', KEYS[i], amount)
  elseif op == 'hi' then
    redis.call('HINCRBY', KEYS[i], field, amount)
  elseif op == 'hf' then
    redis.call('HINCRBYFLOAT', KEYS[i], field, amount)
  elseif op == 's' then
    redis.call('SADD', KEYS[i], field)
  elseif op == 'd' then
    redis.call('HDEL', KEYS[i], field)
  elseif op == 'z' then
    redis.call('ZREM', KEYS[i], field)
  end
  if ttl ~= '0' then redis.call('EXPIRE', KEYS[i], ttl) end
end
return 1
"""


async def apply_once(
    link: RedisLink,
    script: Any,
    marker: str,
    seeded: str,
    ops: Sequence[Op],
    *,
    marker_ttl: int,
    bound: float | None = None,
) -> int:
    """Send one batch: APPLIED, SEEN (applied before) or UNSEEDED; RedisUnavailable if it cannot.

    ``script`` is ``link.client.register_script(APPLY_ONCE)``; a ``marker`` equal to ``seeded``
    seeds the state; ``marker_ttl`` 0 keeps the marker for good.
    """
    keys = [marker, seeded]
    args: list[str | int] = [marker_ttl]
    for kind, key, field, amount, ttl in ops:
        keys.append(key)
        args += [kind, field, amount, ttl]
    reply = await link.call(lambda _r: script(keys=keys, args=args), bound=bound)
    return int(reply)
