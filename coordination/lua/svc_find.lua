-- svc_find: read instances from an index, with the server time to judge expiry.
-- KEYS[1] instance hash base "{p}:svc:" (the script appends each id)
-- KEYS[2] index ZSET to read (a per-name index, or the live index)
-- KEYS[3] gone index ZSET (read too when ARGV[1] = 'all' and ARGV[2] = '1')
-- ARGV[1] 'live' (not expired only) or 'all' (also expired and OFFLINE-retained)
-- ARGV[2] '1' when KEYS[2] is the live index (then OFFLINE ones come from KEYS[3])
-- Returns {now_ms, {flat HGETALL}, ...}; ids whose hash is gone are skipped.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids
if ARGV[1] == 'live' then
  ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
else
  ids = redis.call('ZRANGE', KEYS[2], 0, -1)
  if ARGV[2] == '1' then
    for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do ids[#ids + 1] = id end
  end
end
local out = {now}
for _, id in ipairs(ids) do
  local flat = redis.call('HGETALL', KEYS[1] .. id)
  if #flat > 0 then out[#out + 1] = flat end
end
return out
