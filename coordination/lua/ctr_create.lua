-- ctr_create: write a new container record in state "created" if the manager has room.
-- KEYS[1] record hash {p}:ctr:<id>
-- KEYS[2] live index ZSET {p}:ctrs:live (id -> created ms)
-- KEYS[3] stats HASH {p}:ctrs:stats
-- ARGV[1] container id
-- ARGV[2] max_containers (live records, i.e. not destroyed)
-- ARGV[3] JSON object of the record's fields (strings)
-- Returns {"ok", live_count} | {"exists"} | {"full", live_count}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 1 then
    return {'exists'}
end
local live = redis.call('ZCARD', KEYS[2])
if live >= tonumber(ARGV[2]) then
    return {'full', live}
end
local fields = cjson.decode(ARGV[3])
local flat = {}
for name, value in pairs(fields) do
    flat[#flat + 1] = name
    flat[#flat + 1] = tostring(value)
end
flat[#flat + 1] = 'status'
flat[#flat + 1] = 'created'
flat[#flat + 1] = 'created_at'
flat[#flat + 1] = now
flat[#flat + 1] = 'updated_at'
flat[#flat + 1] = now
flat[#flat + 1] = 'epoch'
flat[#flat + 1] = 0
redis.call('HSET', KEYS[1], unpack(flat))
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('HINCRBY', KEYS[3], 'created', 1)
return {'ok', live + 1}
