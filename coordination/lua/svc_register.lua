-- svc_register: create or update one service instance and its indexes, atomically.
-- KEYS[1] instance hash base "{p}:svc:" (the script appends the id)
-- KEYS[2] per-name index base "{p}:svcn:" (the script appends the old and new name)
-- KEYS[3] live index ZSET (id -> expires_at ms)
-- KEYS[4] gone index ZSET (id -> purge_at ms)
-- ARGV[1] id, ARGV[2] name, ARGV[3] type, ARGV[4] host, ARGV[5] port, ARGV[6] url ('' none),
-- ARGV[7] metadata JSON, ARGV[8] weight, ARGV[9] tags JSON, ARGV[10] check mode (auto|ttl),
-- ARGV[11] ttl ms, ARGV[12] max live instances, ARGV[13] retention ms, ARGV[14] initial status
-- Returns {'ok', expires_at_ms, registered_at_ms} or {'capacity', live_count}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, name = ARGV[1], ARGV[2]
local h = KEYS[1] .. id
local ttl, retention = tonumber(ARGV[11]), tonumber(ARGV[13])
local old = redis.call('HMGET', h, 'name', 'status', 'exp_at', 'host', 'port', 'url', 'check', 'reg_at')
local live = old[2] and old[2] ~= 'offline' and tonumber(old[3] or '0') > now

if not live then
  local count = redis.call('ZCOUNT', KEYS[3], '(' .. now, '+inf')
  if count >= tonumber(ARGV[12]) then
    return {'capacity', count}
  end
end
if old[1] and old[1] ~= name then
  redis.call('ZREM', KEYS[2] .. old[1], id)
end

local same_address = live and old[4] == ARGV[4] and old[5] == ARGV[5]
  and old[6] == ARGV[6] and old[7] == ARGV[10]
local exp = now + ttl
local reg_at = now
if live then
  reg_at = tonumber(old[8]) or now
else
  -- a new life: drop the record of the previous one (history list is kept, capped)
  redis.call('DEL', h)
end
redis.call('HSET', h, 'id', id, 'name', name, 'type', ARGV[3], 'host', ARGV[4], 'port', ARGV[5],
  'url', ARGV[6], 'meta', ARGV[7], 'weight', ARGV[8], 'tags', ARGV[9], 'check', ARGV[10],
  'ttl', ttl, 'reg_at', reg_at, 'hb_at', now, 'exp_at', exp)
if not same_address then
  redis.call('HSET', h, 'status', ARGV[14], 'fails', 0, 'oks', 0)
end
redis.call('ZADD', KEYS[2] .. name, exp, id)
redis.call('ZADD', KEYS[3], exp, id)
redis.call('ZREM', KEYS[4], id)
-- safety TTLs: even if cleanup never runs, nothing outlives expiry + 2 retention windows
local keep = exp + 2 * retention
redis.call('PEXPIREAT', h, keep)
local nk = KEYS[2] .. name
if redis.call('PEXPIRETIME', nk) < keep then redis.call('PEXPIREAT', nk, keep) end
return {'ok', exp, reg_at}
