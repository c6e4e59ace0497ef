-- ctr_transition: compare-and-set a container's status (the state machine's only writer
-- besides ctr_exited). Nothing changes unless every condition holds.
-- KEYS[1] record hash {p}:ctr:<id>
-- KEYS[2] live index ZSET {p}:ctrs:live
-- KEYS[3] stats HASH {p}:ctrs:stats
-- KEYS[4] release outbox ZSET {p}:ctrs:release (destroyed ids whose resources are not yet released)
-- ARGV[1] container id
-- ARGV[2] JSON spec:
--   from: [statuses]  the record must be in one of them
--   to: status        the new status
--   epoch: n          optional; the record's epoch must equal it (fences stale observers)
--   due: true         optional; restart_due_at must be set and <= now (self-healing claim)
--   set: {f: v}       fields to set; the value "$now" becomes server time in ms
--   del: [f]          fields to delete
--   incr: {f: n}      record fields to increment
--   stats: {f: n}     stats counters to increment
--   bump_epoch: true  epoch + 1 (a new run of the container)
--   ttl_ms: n         with to = "destroyed": drop from the live index, expire the record,
--                     and queue the id in the release outbox
-- Returns {"ok", previous_status, epoch} | {"missing"} | {"state", current}
--       | {"epoch", current_epoch} | {"notdue", restart_due_at or ""}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local spec = cjson.decode(ARGV[2])
local current = redis.call('HGET', KEYS[1], 'status')
if not current then
    return {'missing'}
end
local allowed = false
for _, status in ipairs(spec['from']) do
    if status == current then allowed = true end
end
if not allowed then
    return {'state', current}
end
local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if spec['epoch'] ~= nil and tonumber(spec['epoch']) ~= epoch then
    return {'epoch', epoch}
end
if spec['due'] then
    local due = redis.call('HGET', KEYS[1], 'restart_due_at')
    if not due or tonumber(due) > now then
        return {'notdue', due or ''}
    end
end
local flat = {'status', spec['to'], 'updated_at', now}
for name, value in pairs(spec['set'] or {}) do
    flat[#flat + 1] = name
    if value == '$now' then flat[#flat + 1] = now else flat[#flat + 1] = tostring(value) end
end
if spec['bump_epoch'] then
    epoch = epoch + 1
    flat[#flat + 1] = 'epoch'
    flat[#flat + 1] = epoch
end
redis.call('HSET', KEYS[1], unpack(flat))
if spec['del'] and #spec['del'] > 0 then
    redis.call('HDEL', KEYS[1], unpack(spec['del']))
end
for name, n in pairs(spec['incr'] or {}) do
    redis.call('HINCRBY', KEYS[1], name, n)
end
for name, n in pairs(spec['stats'] or {}) do
    redis.call('HINCRBY', KEYS[3], name, n)
end
if spec['to'] == 'destroyed' then
    redis.call('ZREM', KEYS[2], ARGV[1])
    redis.call('PEXPIRE', KEYS[1], tonumber(spec['ttl_ms']))
    redis.call('ZADD', KEYS[4], now, ARGV[1])
end
return {'ok', current, epoch}
