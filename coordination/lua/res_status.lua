-- res_status: one consistent snapshot of a pool.
-- KEYS[1] capacity HASH, KEYS[2] used HASH, KEYS[3] allocations HASH, KEYS[4] waiting ZSET
-- ARGV: none
-- Returns {capacity flat list, used flat list, granted allocations, waiting requests}
local waiting = redis.call('ZCARD', KEYS[4])
return {
  redis.call('HGETALL', KEYS[1]),
  redis.call('HGETALL', KEYS[2]),
  redis.call('HLEN', KEYS[3]) - waiting,
  waiting,
}
