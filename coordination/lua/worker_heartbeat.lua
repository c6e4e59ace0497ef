-- worker_heartbeat: renew a live worker's expiry and the leases of its RUNNING tasks (mode hb),
-- or only the leases (mode leases).
-- KEYS[1] worker hash   KEYS[2] workers zset (score = expiry ms)   KEYS[3] the worker's task set
-- KEYS[4] leases zset
-- ARGV[1] worker id   ARGV[2] mode: hb | leases   ARGV[3] reported load 0..1 ("" = keep)
-- ARGV[4] ttl ms ("" = the registered ttl)   ARGV[5] lease ms ("" = the ttl)
-- Returns: the number of leases renewed, or -1 when the worker is unknown or expired.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', KEYS[1], 'exp', 'ttl')
if not f[1] or tonumber(f[1]) <= now then return -1 end
local ttl = tonumber(ARGV[4]) or tonumber(f[2])
local lease = tonumber(ARGV[5]) or ttl
if ARGV[2] == 'hb' then
  local exp = now + ttl
  redis.call('HSET', KEYS[1], 'exp', exp)
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'ttl', ttl) end
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'load', ARGV[3]) end
  redis.call('ZADD', KEYS[2], exp, ARGV[1])
end
local renewed = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('ZSCORE', KEYS[4], id) then
    redis.call('ZADD', KEYS[4], now + lease, id)
    renewed = renewed + 1
  end
end
return renewed
