-- ctr_abort: undo a create that failed half-way (resources or runtime refused it).
-- KEYS[1] record hash {p}:ctr:<id>
-- KEYS[2] live index ZSET {p}:ctrs:live
-- KEYS[3] stats HASH {p}:ctrs:stats
-- ARGV[1] container id
-- Only a record still in "created" is removed. Returns 1 if removed, 0 otherwise.
if redis.call('HGET', KEYS[1], 'status') ~= 'created' then
    return 0
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'created', -1)
return 1
