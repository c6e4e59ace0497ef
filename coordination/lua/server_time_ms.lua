-- server_time_ms: Redis server time in milliseconds (all timing comes from Redis TIME).
-- KEYS: none
-- ARGV: none
-- Returns: integer milliseconds since the epoch.
local t = redis.call('TIME')
return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
