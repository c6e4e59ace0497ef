-- svc_connections: add to an instance's count of open connections (acquire +1 / release -1).
-- KEYS[1] instance hash
-- ARGV[1] delta
-- Returns the new count (never below 0), or -1 if the instance does not exist (nothing created).
local h = KEYS[1]
if redis.call('EXISTS', h) == 0 then return -1 end
local n = redis.call('HINCRBY', h, 'active', ARGV[1])
if n < 0 then
  redis.call('HSET', h, 'active', 0)
  n = 0
end
return n
