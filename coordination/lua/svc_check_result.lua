-- svc_check_result: apply one health-check result with flap thresholds; append to history.
-- KEYS[1] instance hash, KEYS[2] its health history list
-- ARGV[1] ok (1|0), ARGV[2] response time ms, ARGV[3] error text ('' none),
-- ARGV[4] failures before unhealthy, ARGV[5] successes before healthy, ARGV[6] history size
-- Returns {'gone'} if the instance is unknown, OFFLINE or expired (result dropped),
-- else {new_status, old_status}.
-- UNKNOWN -> HEALTHY on the first pass; HEALTHY/UNKNOWN -> UNHEALTHY after ARGV[4] failures
-- in a row; UNHEALTHY -> HEALTHY after ARGV[5] passes in a row.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = KEYS[1]
local v = redis.call('HMGET', h, 'status', 'exp_at', 'fails', 'oks')
if not v[1] or v[1] == 'offline' or tonumber(v[2]) <= now then return {'gone'} end
local old = v[1]
local status, fails, oks = old, tonumber(v[3]) or 0, tonumber(v[4]) or 0
local ok = ARGV[1] == '1'
if ok then
  oks, fails = oks + 1, 0
  if old == 'unknown' or (old == 'unhealthy' and oks >= tonumber(ARGV[5])) then
    status = 'healthy'
  end
else
  fails, oks = fails + 1, 0
  if old ~= 'unhealthy' and fails >= tonumber(ARGV[4]) then status = 'unhealthy' end
end
redis.call('HSET', h, 'status', status, 'fails', fails, 'oks', oks, 'checked_at', now)
local entry = cjson.encode({timestamp = now, healthy = ok, response_time_ms = tonumber(ARGV[2]),
  error = ARGV[3], status = status})
redis.call('LPUSH', KEYS[2], entry)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[6]) - 1)
local at = redis.call('PEXPIRETIME', h)
if at > 0 then redis.call('PEXPIREAT', KEYS[2], at) end
return {status, old}
