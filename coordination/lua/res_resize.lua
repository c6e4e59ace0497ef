-- res_resize: replace a pool's total capacity. Allocations are never dropped: a resource shrunk
-- below what is held shows as fully used until enough is released.
-- KEYS[1] capacity HASH resource -> total (normalized integer)
-- ARGV[1] n, then n pairs: resource name, total (integer strings)
-- Returns the new capacity as a flat list name, total, ...
redis.call('DEL', KEYS[1])
local n = tonumber(ARGV[1])
for i = 1, n do
  redis.call('HSET', KEYS[1], ARGV[2 * i], ARGV[2 * i + 1])
end
return redis.call('HGETALL', KEYS[1])
