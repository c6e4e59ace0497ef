-- svc_outcome: record one request outcome for an instance; eject it after repeated failures.
-- KEYS[1] instance hash
-- ARGV[1] ok (1|0), ARGV[2] response time ms ('' = not measured),
-- ARGV[3] consecutive failures that eject, ARGV[4] base ejection ms, ARGV[5] max ejection ms
-- Returns {-1} for an unknown instance, else {ejected_now (0|1), ejected_until_ms, times_ejected}.
-- Ejection lasts base * times_ejected (capped), as Envoy's outlier detection; times_ejected
-- decays by one per base interval the instance spends un-ejected.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = KEYS[1]
if redis.call('EXISTS', h) == 0 then return {-1} end
redis.call('HINCRBY', h, 'req', 1)
if ARGV[2] ~= '' then
  redis.call('HINCRBYFLOAT', h, 'lat_sum', ARGV[2])
  redis.call('HINCRBY', h, 'lat_n', 1)
end
local v = redis.call('HMGET', h, 'ej_until', 'ej_count')
local until_ms, count = tonumber(v[1]) or 0, tonumber(v[2]) or 0
if ARGV[1] == '1' then
  redis.call('HSET', h, 'ej_fails', 0)
  return {0, until_ms, count}
end
redis.call('HINCRBY', h, 'err', 1)
local fails = redis.call('HINCRBY', h, 'ej_fails', 1)
if until_ms > now or fails < tonumber(ARGV[3]) then
  return {0, until_ms, count} -- already ejected, or not enough failures in a row yet
end
local base, cap = tonumber(ARGV[4]), tonumber(ARGV[5])
if until_ms > 0 then
  count = math.max(count - math.floor((now - until_ms) / base), 0)
end
count = count + 1
until_ms = now + math.min(base * count, cap)
redis.call('HSET', h, 'ej_until', until_ms, 'ej_count', count, 'ej_fails', 0)
return {1, until_ms, count}
