-- ctr_sweep: drop live-index members whose record is gone or destroyed (the index never
-- outlives its records). Bounded by max_containers, so it is cheap.
-- KEYS[1] live index ZSET {p}:ctrs:live
-- KEYS[2] record key base "{p}:ctr:" (record keys are derived as base .. id; same hash tag)
-- ARGV: none
-- Returns the list of removed ids.
local removed = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local status = redis.call('HGET', KEYS[2] .. id, 'status')
    if not status or status == 'destroyed' then
        redis.call('ZREM', KEYS[1], id)
        removed[#removed + 1] = id
    end
end
return removed
