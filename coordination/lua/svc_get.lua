-- svc_get: read instances by id, with the server time to judge expiry.
-- KEYS[1] instance hash base "{p}:svc:" (the script appends each id)
-- ARGV ids
-- Returns {now_ms, {flat HGETALL or empty}, ...} in ARGV order.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {now}
for _, id in ipairs(ARGV) do out[#out + 1] = redis.call('HGETALL', KEYS[1] .. id) end
return out
