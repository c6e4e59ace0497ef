-- res_get: one request's record and, when waiting, its queue position.
-- KEYS[1] allocations HASH (id -> JSON record), KEYS[2] waiting ZSET
-- ARGV[1] request id
-- Returns {record JSON, position (1 = next; 0 when granted)} or {} for an unknown id.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {} end
local rec = cjson.decode(raw)
local rank = rec.m and redis.call('ZRANK', KEYS[2], rec.m)
return {raw, rank and rank + 1 or 0}
