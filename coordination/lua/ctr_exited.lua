-- ctr_exited: a container's process exited without being asked to. Decide by its restart
-- policy: schedule a restart with exponential backoff (status "stopped" + restart_due_at),
-- or, past the cap or by policy, mark it "error" / "stopped". Fenced by status and epoch, so
-- two health checkers observing the same exit act once.
-- KEYS[1] record hash {p}:ctr:<id>
-- KEYS[2] stats HASH {p}:ctrs:stats
-- ARGV[1] expected status ("running", or "starting" when a restart itself failed)
-- ARGV[2] expected epoch
-- ARGV[3] exit code ("" = unknown, counts as a failure)
-- ARGV[4] restart policy: no | on-failure | always
-- ARGV[5] max consecutive restarts
-- ARGV[6] backoff base (ms); ARGV[7] backoff cap (ms)
-- ARGV[8] run time (ms) after which the consecutive-restart count starts again
-- ARGV[9] what happened (kept in the record's "error" field)
-- Returns {"restart", delay_ms, attempt} | {"stopped"} | {"error", reason} | {"skip", status}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= ARGV[1] then
    return {'skip', status or 'missing'}
end
if tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0') ~= tonumber(ARGV[2]) then
    return {'skip', 'epoch'}
end
local code = ARGV[3]
local failed = code ~= '0'
local attempt = tonumber(redis.call('HGET', KEYS[1], 'restart_attempt') or '0')
local started = tonumber(redis.call('HGET', KEYS[1], 'started_at') or '0')
if started > 0 and now - started >= tonumber(ARGV[8]) then
    attempt = 0  -- it ran long enough: this exit starts a new series
end
redis.call('HSET', KEYS[1], 'exit_code', code, 'stopped_at', now, 'updated_at', now)
if ARGV[1] == 'starting' then
    redis.call('HINCRBY', KEYS[2], 'start_failures', 1)
else
    redis.call('HINCRBY', KEYS[2], 'exits', 1)
end
local policy = ARGV[4]
local wants = policy == 'always' or (policy == 'on-failure' and failed)
if not wants then
    if failed then
        redis.call('HSET', KEYS[1], 'status', 'error', 'error', ARGV[9])
        redis.call('HINCRBY', KEYS[2], 'errors', 1)
        return {'error', ARGV[9]}
    end
    redis.call('HSET', KEYS[1], 'status', 'stopped')
    redis.call('HINCRBY', KEYS[2], 'stopped', 1)
    return {'stopped'}
end
if attempt >= tonumber(ARGV[5]) then
    local reason = ARGV[9] .. '; gave up after ' .. attempt .. ' consecutive restarts'
    redis.call('HSET', KEYS[1], 'status', 'error', 'error', reason, 'restart_attempt', attempt)
    redis.call('HDEL', KEYS[1], 'restart_due_at')
    redis.call('HINCRBY', KEYS[2], 'errors', 1)
    return {'error', reason}
end
attempt = attempt + 1
local delay = math.min(tonumber(ARGV[6]) * 2 ^ (attempt - 1), tonumber(ARGV[7]))
delay = math.floor(delay)
redis.call('HSET', KEYS[1], 'status', 'stopped', 'error', ARGV[9],
    'restart_attempt', attempt, 'restart_due_at', now + delay)
return {'restart', delay, attempt}
