"""The Lua scripts of the Redis ledger: each ledger step is one script, so one atomic step.

Redis runs a script without interleaving any other command, which makes admission
check-and-reserve across every gateway instance exactly what it is inside one process. Numbers
go in and out as strings (Lua would truncate a returned float to an integer). Keys of one
client (``<prefix>ledger:<client>:...``):

* ``rpm``: sorted set, request id scored by admission time (last minute).
* ``tpm``: sorted set, ``<request id>:<tokens>`` scored by settle time (last minute).
* ``day:<YYYY-MM-DD>`` and ``month:<YYYY-MM>``: spend in USD (INCRBYFLOAT), expiring a day
  after their period ends.
* ``held``: hash request id -> reserved USD; ``held-at``: sorted set, request id by time.
* ``est``: hash model -> the dearest cost of one answer seen.

Shared keys: ``<prefix>ledger:clients`` (every client with spend, for the persisted copy) and
``<prefix>ledger:seeded``, set when Redis holds the spend; a Redis that lost its data has no
``seeded`` and every script answers ``unseeded`` until the gateway seeds it again.
"""

from __future__ import annotations

__all__ = ["ADMIT", "RELEASE", "SETTLE"]

# KEYS: rpm, tpm, day, month, held, held-at, est, seeded
# ARGV: request id, model, now, rpm, tpm, daily ('' = none), monthly, day ends, month ends,
#       window, stale after
# -> {'unseeded'} | {'', day spent, month spent, reserved} | {reason, retry after, limit, spent?}
ADMIT = """
if redis.call('EXISTS', KEYS[8]) == 0 then return {'unseeded'} end
local now = tonumber(ARGV[3])
local window = tonumber(ARGV[10])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local stale = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[11]))
for _, id in ipairs(stale) do
  redis.call('HDEL', KEYS[5], id)
  redis.call('ZREM', KEYS[6], id)
end
local rpm = tonumber(ARGV[4])
if rpm > 0 and redis.call('ZCARD', KEYS[1]) >= rpm then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  -- Another instance may have read its clock a moment later: never more than the window.
  return {'rpm', tostring(math.min(window, tonumber(first[2]) + window - now)), ARGV[4], '0'}
end
local tpm = tonumber(ARGV[5])
if tpm > 0 then
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  local used, counts = 0, {}
  for i = 1, #entries, 2 do
    local tokens = tonumber(string.match(entries[i], ':(%d+)$')) or 0
    counts[#counts + 1] = tokens
    used = used + tokens
  end
  if used >= tpm then
    for i = 1, #entries, 2 do
      used = used - counts[(i + 1) / 2]
      if used < tpm then
        local wait = math.min(window, tonumber(entries[i + 1]) + window - now)
        return {'tpm', tostring(wait), ARGV[5], '0'}
      end
    end
  end
end
local day = tonumber(redis.call('GET', KEYS[3]) or '0')
local month = tonumber(redis.call('GET', KEYS[4]) or '0')
local held, holders = 0, 0
for _, cost in ipairs(redis.call('HVALS', KEYS[5])) do
  held = held + tonumber(cost)
  holders = holders + 1
end
local estimate = redis.call('HGET', KEYS[7], ARGV[2])
local budgets = {
  {'daily-budget', ARGV[6], day, ARGV[8]},
  {'monthly-budget', ARGV[7], month, ARGV[9]},
}
for _, b in ipairs(budgets) do
  if b[2] ~= '' then
    local budget = tonumber(b[2])
    if b[3] >= budget then
      return {b[1], tostring(tonumber(b[4]) - now), b[2], '1'}
    end
    if holders > 0 and ((not estimate) or b[3] + held + tonumber(estimate) > budget) then
      return {b[1], '1', b[2], '0'}
    end
  end
end
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
end
local reserved = estimate or '0'
redis.call('HSET', KEYS[5], ARGV[1], reserved)
redis.call('ZADD', KEYS[6], now, ARGV[1])
local keep = math.ceil(tonumber(ARGV[11])) + 60
redis.call('EXPIRE', KEYS[5], keep)
redis.call('EXPIRE', KEYS[6], keep)
return {'', tostring(day), tostring(month), reserved}
"""

# KEYS: tpm, day, month, held, held-at, est, clients, seeded
# ARGV: request id, model, cost, tokens, served (1/0), now, window, day ttl, month ttl,
#       client, guarded (1: count only if the reservation is still held)
# -> {'unseeded'} | {'skipped'} | {'', day spent, month spent}
SETTLE = """
if redis.call('EXISTS', KEYS[8]) == 0 then return {'unseeded'} end
local was_held = redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
if ARGV[11] == '1' and was_held == 0 then return {'skipped'} end
local cost = tonumber(ARGV[3])
local day, month
if cost > 0 then
  day = redis.call('INCRBYFLOAT', KEYS[2], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[8])
  month = redis.call('INCRBYFLOAT', KEYS[3], ARGV[3])
  redis.call('EXPIRE', KEYS[3], ARGV[9])
  redis.call('SADD', KEYS[7], ARGV[10])
else
  day = redis.call('GET', KEYS[2]) or '0'
  month = redis.call('GET', KEYS[3]) or '0'
end
local tokens = tonumber(ARGV[4])
if tokens > 0 then
  -- Pruned here too: a key without limits is settled but never admitted.
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[6]) - tonumber(ARGV[7]))
  redis.call('ZADD', KEYS[1], tonumber(ARGV[6]), ARGV[1] .. ':' .. ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[7]) * 1000) + 1000)
end
if ARGV[5] == '1' and ARGV[2] ~= '' then
  local dearest = tonumber(redis.call('HGET', KEYS[6], ARGV[2]) or '-1')
  if cost > dearest then redis.call('HSET', KEYS[6], ARGV[2], ARGV[3]) end
  redis.call('EXPIRE', KEYS[6], 3456000)
end
return {'', day, month}
"""

# KEYS: held, held-at  ARGV: request id
RELEASE = """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""
