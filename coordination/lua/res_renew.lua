-- res_renew: push a granted allocation's expiry to server time + ttl (a waiting request keeps the
-- ttl for when it is granted).
-- KEYS[1] allocations HASH (id -> JSON record), KEYS[2] expiry ZSET (id -> ms)
-- ARGV[1] request id, ARGV[2] ttl ms (> 0)
-- Returns 1 when renewed, 0 for an unknown id.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
local ttl = tonumber(ARGV[2])
rec.t = ttl
if rec.s == 'granted' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  rec.e = now + ttl
  redis.call('ZADD', KEYS[2], string.format('%d', rec.e), ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1
