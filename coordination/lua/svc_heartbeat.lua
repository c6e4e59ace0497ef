-- svc_heartbeat: extend one live instance's expiry from Redis server time.
-- KEYS[1] instance hash base "{p}:svc:" (the script appends the id)
-- KEYS[2] per-name index base "{p}:svcn:" (the script appends the instance's name)
-- KEYS[3] live index ZSET (id -> expires_at ms)
-- ARGV[1] id, ARGV[2] load ('' = unchanged), ARGV[3] connections ('' = unchanged),
-- ARGV[4] retention ms
-- Returns {'ok', expires_at_ms}, {'unknown'} (no such id) or {'expired'} (OFFLINE or TTL passed).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local h = KEYS[1] .. id
local v = redis.call('HMGET', h, 'name', 'status', 'exp_at', 'ttl', 'check')
if not v[1] then return {'unknown'} end
if v[2] == 'offline' or tonumber(v[3]) <= now then return {'expired'} end
local exp = now + tonumber(v[4])
redis.call('HSET', h, 'hb_at', now, 'exp_at', exp)
if ARGV[2] ~= '' then redis.call('HSET', h, 'load', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', h, 'conns', ARGV[3]) end
-- a heartbeat-only instance is healthy exactly while it heartbeats
if v[5] == 'ttl' and v[2] ~= 'healthy' then redis.call('HSET', h, 'status', 'healthy') end
local nk = KEYS[2] .. v[1]
redis.call('ZADD', nk, exp, id)
redis.call('ZADD', KEYS[3], exp, id)
local keep = exp + 2 * tonumber(ARGV[4])
redis.call('PEXPIREAT', h, keep)
if redis.call('PEXPIRETIME', nk) < keep then redis.call('PEXPIREAT', nk, keep) end
return {'ok', exp}
