-- svc_deregister: mark one instance OFFLINE now, invisible to discovery, kept for retention.
-- KEYS[1] instance hash base "{p}:svc:" (the script appends the id)
-- KEYS[2] per-name index base "{p}:svcn:" (the script appends the instance's name)
-- KEYS[3] live index ZSET, KEYS[4] gone index ZSET (id -> purge_at ms)
-- ARGV[1] id, ARGV[2] retention ms
-- Returns 1 if a live instance was deregistered, 0 if unknown or already OFFLINE.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local h = KEYS[1] .. id
local v = redis.call('HMGET', h, 'name', 'status', 'exp_at')
if not v[1] or v[2] == 'offline' then return 0 end
local retention = tonumber(ARGV[2])
local exp = math.min(tonumber(v[3]), now)
redis.call('HSET', h, 'status', 'offline', 'off_at', now, 'exp_at', exp)
redis.call('ZADD', KEYS[2] .. v[1], exp, id)
redis.call('ZREM', KEYS[3], id)
redis.call('ZADD', KEYS[4], now + retention, id)
redis.call('PEXPIREAT', h, now + 2 * retention)
return 1
