-- svc_cleanup: mark expired instances OFFLINE, purge OFFLINE ones past retention (one batch).
-- KEYS[1] instance hash base "{p}:svc:" (the script appends each id)
-- KEYS[2] per-name index base "{p}:svcn:" (the script appends each instance's name)
-- KEYS[3] live index ZSET, KEYS[4] gone index ZSET (id -> purge_at ms)
-- KEYS[5] health history base "{p}:svchist:" (the script appends each id)
-- ARGV[1] retention ms, ARGV[2] batch size (per phase)
-- Returns {marked_offline, purged, more (1 if a phase filled its batch)}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local retention, batch = tonumber(ARGV[1]), tonumber(ARGV[2])
local marked, purged, more = 0, 0, 0

local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, batch)
for _, id in ipairs(expired) do
  local h = KEYS[1] .. id
  redis.call('ZREM', KEYS[3], id)
  if redis.call('EXISTS', h) == 1 then
    redis.call('HSET', h, 'status', 'offline', 'off_at', now)
    redis.call('ZADD', KEYS[4], now + retention, id)
    redis.call('PEXPIREAT', h, now + 2 * retention)
    local hist = KEYS[5] .. id
    if redis.call('EXISTS', hist) == 1 then redis.call('PEXPIREAT', hist, now + 2 * retention) end
    marked = marked + 1
  end
end

local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, batch)
for _, id in ipairs(due) do
  local h = KEYS[1] .. id
  local name = redis.call('HGET', h, 'name')
  if name then redis.call('ZREM', KEYS[2] .. name, id) end
  redis.call('DEL', h, KEYS[5] .. id)
  redis.call('ZREM', KEYS[4], id)
  purged = purged + 1
end
if #expired >= batch or #due >= batch then more = 1 end
return {marked, purged, more}
