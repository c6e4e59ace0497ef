-- res_allocate: grant a request if it fits the pool now, else queue it (wait=1) or refuse it.
-- KEYS[1] capacity HASH  resource -> total (normalized integer)
-- KEYS[2] used HASH      resource -> amount held by granted allocations
-- KEYS[3] allocations HASH request id -> JSON record {r, p, s, g, e, t, m}
-- KEYS[4] waiting ZSET   score -priority, member "<seq:016d>:<id>"
-- KEYS[5] expiry ZSET    granted id -> expires_at (ms)
-- KEYS[6] sequence STRING arrival counter (FIFO among equal priorities)
-- ARGV[1] request id, ARGV[2] priority, ARGV[3] wait (1/0), ARGV[4] ttl ms (0 = none),
-- ARGV[5] n, then n pairs: resource name, amount (integer strings)
-- Returns {"granted", 0} | {"waiting", position (1 = next)} | {"refused", 0}
--       | {"capacity", resource, requested, total or "-1" when the pool lacks the resource}
-- An existing id returns its current state and changes nothing (idempotent re-request).
-- Record amounts are strings so cjson's 14-digit number format never rounds byte counts.
local function fmt(n) return string.format('%d', n) end

local id = ARGV[1]
local existing = redis.call('HGET', KEYS[3], id)
if existing then
  local rec = cjson.decode(existing)
  if rec.s == 'waiting' then
    return {'waiting', redis.call('ZRANK', KEYS[4], rec.m) + 1}
  end
  return {'granted', 0}
end

local priority = tonumber(ARGV[2])
local ttl = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local request, fits = {}, true
for i = 1, n do
  local name, amount = ARGV[4 + 2 * i], tonumber(ARGV[5 + 2 * i])
  local total = tonumber(redis.call('HGET', KEYS[1], name))
  if not total or amount > total then
    return {'capacity', name, fmt(amount), total and fmt(total) or '-1'}
  end
  local used = tonumber(redis.call('HGET', KEYS[2], name)) or 0
  if used + amount > total then fits = false end
  request[name] = fmt(amount)
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rec = {r = request, p = priority}
if ttl > 0 then rec.t = ttl end

if fits then
  for name, amount in pairs(request) do
    redis.call('HINCRBY', KEYS[2], name, amount)
  end
  rec.s, rec.g = 'granted', now
  if ttl > 0 then
    rec.e = now + ttl
    redis.call('ZADD', KEYS[5], fmt(rec.e), id)
  end
  redis.call('HSET', KEYS[3], id, cjson.encode(rec))
  return {'granted', 0}
end
if ARGV[3] ~= '1' then
  return {'refused', 0}
end
local member = string.format('%016d', redis.call('INCR', KEYS[6])) .. ':' .. id
rec.s, rec.m = 'waiting', member
redis.call('ZADD', KEYS[4], fmt(-priority), member)
redis.call('HSET', KEYS[3], id, cjson.encode(rec))
return {'waiting', redis.call('ZRANK', KEYS[4], member) + 1}
