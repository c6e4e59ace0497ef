-- res_release: free allocations, then grant waiting requests that now fit, in one step.
-- KEYS[1] capacity HASH, KEYS[2] used HASH, KEYS[3] allocations HASH (id -> JSON record),
-- KEYS[4] waiting ZSET (score -priority, member "<seq:016d>:<id>"), KEYS[5] expiry ZSET (id -> ms)
-- ARGV[1] mode: "id"      release request ARGV[2] (granted: frees it; waiting: leaves the queue)
--               "expired" release up to ARGV[2] allocations whose expiry <= server time
--               "grant"   release nothing (after a capacity resize); ARGV[2] ignored
-- ARGV[3] most waiting requests examined by the grant pass (bounds the script's run time)
-- Returns {released (1/0), {released ids}, {granted ids}}
-- Grant policy (backfill): waiters are examined highest priority first, FIFO within a priority;
-- one that does not fit is skipped and the next is tried, so a big request at the head never
-- blocks smaller ones behind it.
local function fmt(n) return string.format('%d', n) end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function free(id, rec)
  if rec.s == 'waiting' then
    redis.call('ZREM', KEYS[4], rec.m)
  else
    for name, amount in pairs(rec.r) do
      if redis.call('HINCRBY', KEYS[2], name, '-' .. amount) <= 0 then
        redis.call('HDEL', KEYS[2], name)
      end
    end
    redis.call('ZREM', KEYS[5], id)
  end
  redis.call('HDEL', KEYS[3], id)
end

local function numbers(key)
  local flat, out = redis.call('HGETALL', key), {}
  for i = 1, #flat, 2 do out[flat[i]] = tonumber(flat[i + 1]) end
  return out
end

local function grant_waiters(limit)
  local granted = {}
  local members = redis.call('ZRANGE', KEYS[4], 0, limit - 1)
  if #members == 0 then return granted end
  local cap, used = numbers(KEYS[1]), numbers(KEYS[2])
  for _, member in ipairs(members) do
    local id = string.sub(member, 18)
    local raw = redis.call('HGET', KEYS[3], id)
    if not raw then
      redis.call('ZREM', KEYS[4], member)  -- index entry without a record: drop it
    else
      local rec, fits = cjson.decode(raw), true
      for name, amount in pairs(rec.r) do
        if (used[name] or 0) + tonumber(amount) > (cap[name] or 0) then fits = false end
      end
      if fits then
        for name, amount in pairs(rec.r) do
          used[name] = (used[name] or 0) + tonumber(amount)
          redis.call('HINCRBY', KEYS[2], name, amount)
        end
        rec.s, rec.g, rec.m = 'granted', now, nil
        if rec.t then
          rec.e = now + rec.t
          redis.call('ZADD', KEYS[5], fmt(rec.e), id)
        end
        redis.call('HSET', KEYS[3], id, cjson.encode(rec))
        redis.call('ZREM', KEYS[4], member)
        granted[#granted + 1] = id
      end
    end
  end
  return granted
end

local released = {}
if ARGV[1] == 'id' then
  local raw = redis.call('HGET', KEYS[3], ARGV[2])
  if not raw then return {0, {}, {}} end
  local rec = cjson.decode(raw)
  free(ARGV[2], rec)
  released[1] = ARGV[2]
  if rec.s == 'waiting' then return {1, released, {}} end  -- nothing was held
elseif ARGV[1] == 'expired' then
  local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', fmt(now), 'LIMIT', 0, tonumber(ARGV[2]))
  for _, id in ipairs(due) do
    local raw = redis.call('HGET', KEYS[3], id)
    if raw then free(id, cjson.decode(raw)) else redis.call('ZREM', KEYS[5], id) end
    released[#released + 1] = id
  end
elseif ARGV[1] ~= 'grant' then
  return redis.error_reply('res_release: unknown mode ' .. tostring(ARGV[1]))
end
return {#released > 0 and 1 or 0, released, grant_waiters(tonumber(ARGV[3]))}
