-- task_lifecycle: every transition after binding, fenced by state and attempt, plus the sweeps.
-- KEYS[1] task hash base "{p}:task:"     KEYS[2] queue priority zset base "{p}:tqp:"
-- KEYS[3] queue fifo zset base "{p}:tqf:" KEYS[4] worker hash base "{p}:tw:"
-- KEYS[5] worker task set base "{p}:twt:" KEYS[6] leases zset  KEYS[7] unstarted zset
-- KEYS[8] deadlines zset  KEYS[9] delayed zset  KEYS[10] stats hash
-- KEYS[11] terminal index base "{p}:tdone:" (base .. status; "failed" is the dead-letter set)
-- KEYS[12] notify list base "{p}:tnotify:"  KEYS[13] submit sequence counter
-- KEYS[14] workers zset (expiry)  KEYS[15] worker names zset  KEYS[16] queue names set
-- KEYS[17] waiter flag base "{p}:twaiting:" (notify is pushed only while someone waits)
-- KEYS[18] Celery worker queue base "{p}.w.": a dead or deregistered worker's queue is
--   deleted with the requeue of its tasks (and when a long-dead worker is purged), so no
--   stale message outlives it
-- (per-id keys are base .. id: same hash tag, same slot)
-- ARGV[1] op   ARGV[2] task ttl ms (finished tasks, indexes)   ARGV[3] notify list ttl ms
-- ARGV[4..] by op:
--   start: id, attempt (a no-op success when already started: pull and celery bindings)
--   complete: id, attempt|"", execution seconds|"", result|""
--   complete_batch: n, then n x (id, attempt|"", execution seconds|"", result|"")
--   fail: id, attempt|"", error, retry 0|1, backoff base ms, backoff max ms
--   timeout: id, attempt|""         cancel: id, pub/sub channel|"" (not a key: a RUNNING task's
--     worker hears "cancel:<id>:<worker>" there and revokes the run through Celery)
--   requeue_expired: limit, dead-worker purge age ms   timeout_overdue: limit
--   promote: limit                  deregister: worker id
-- Returns: transitions {ok 0|1, reason, status, attempt, worker|"", previous status|""}
--   (complete_batch: a list of those); sweeps and deregister the list of task ids they moved.
local op = ARGV[1]
local task_ttl, notify_ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local SHIFT = 35184372088832
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function parse_res(s)
  local r = {}
  for name, amount in string.gmatch(s or '', '([^,=]+)=([^,]+)') do r[name] = tonumber(amount) end
  return r
end

local function format_res(r)
  local parts = {}
  for name, amount in pairs(r) do
    if amount > 0 then parts[#parts + 1] = name .. '=' .. string.format('%.0f', amount) end
  end
  table.sort(parts)
  return table.concat(parts, ',')
end

local function load(id)
  local f = redis.call('HMGET', KEYS[1] .. id, 'status', 'attempt', 'worker', 'queue', 'res',
    'prio', 'seq', 'retries', 'maxr', 'start', 'bound', 'timeout')
  if not f[1] then return nil end
  return {id = id, key = KEYS[1] .. id, status = f[1], attempt = tonumber(f[2]) or 0,
    worker = f[3] or '', queue = f[4], res = f[5] or '', prio = tonumber(f[6]) or 0,
    seq = tonumber(f[7]) or 0, retries = tonumber(f[8]) or 0, maxr = tonumber(f[9]) or 0,
    start = tonumber(f[10]), bound = tonumber(f[11]), timeout = tonumber(f[12])}
end

-- worker slot/resource updates and counters are gathered here and written once by flush()
local wcache, counts = {}, {}
local function bump(field, n) counts[field] = (counts[field] or 0) + n end

local function worker_state(wid)
  local st = wcache[wid]
  if st == nil then
    local f = redis.call('HMGET', KEYS[4] .. wid, 'inflight', 'rused')
    st = f[1] and {inflight = tonumber(f[1]), used = parse_res(f[2]), dirty = false} or false
    wcache[wid] = st
  end
  return st
end

local function flush()
  for wid, st in pairs(wcache) do
    if st and st.dirty then
      redis.call('HSET', KEYS[4] .. wid, 'inflight', st.inflight, 'rused', format_res(st.used))
    end
  end
  for field, n in pairs(counts) do
    if field == 'exec_total' then
      redis.call('HINCRBYFLOAT', KEYS[10], field, n)
    elseif n ~= 0 then
      redis.call('HINCRBY', KEYS[10], field, n)
    end
  end
end

local function reply(ok, reason, task, previous)
  return {ok and 1 or 0, reason, task and task.status or '', task and task.attempt or 0,
    task and task.worker or '', previous or ''}
end

-- refusal reason, or nil when the transition may go ahead from one of the allowed states
local function check(task, attempt, allowed)
  if not task then return 'not_found' end
  if attempt ~= '' and tonumber(attempt) ~= task.attempt then return 'stale_attempt' end
  if task.status == 'completed' or task.status == 'failed' or task.status == 'cancelled'
    or task.status == 'timeout' then return 'already_terminal' end
  if not allowed[task.status] then return 'wrong_state' end
  return nil
end

-- give back the worker's slot and resources, drop every RUNNING index entry
local function release(task)
  if task.worker ~= '' then
    local st = worker_state(task.worker)
    if st then
      st.inflight = math.max(0, st.inflight - 1)
      if task.res ~= '' then
        for name, amount in pairs(parse_res(task.res)) do
          st.used[name] = math.max(0, (st.used[name] or 0) - amount)
        end
      end
      st.dirty = true
    end
    redis.call('SREM', KEYS[5] .. task.worker, task.id)
  end
  redis.call('ZREM', KEYS[6], task.id)
  if not task.start then redis.call('ZREM', KEYS[7], task.id) end
  if task.start and task.timeout then redis.call('ZREM', KEYS[8], task.id) end
  bump('running', -1)
end

local function enqueue(task)
  redis.call('ZADD', KEYS[2] .. task.queue, string.format('%.0f', (100 - task.prio) * SHIFT + task.seq), task.id)
  redis.call('ZADD', KEYS[3] .. task.queue, task.seq, task.id)
  redis.call('SADD', KEYS[16], task.queue)
end

local function unqueue(task)
  redis.call('ZREM', KEYS[2] .. task.queue, task.id)
  redis.call('ZREM', KEYS[3] .. task.queue, task.id)
  redis.call('ZREM', KEYS[9], task.id)
end

local function finish(task, status, extra)
  redis.call('HSET', task.key, 'status', status, 'fin', now, unpack(extra))
  redis.call('PEXPIRE', task.key, task_ttl)
  redis.call('ZADD', KEYS[11] .. status, now, task.id)
  bump(status, 1)
  if redis.call('EXISTS', KEYS[17] .. task.id) == 1 then
    local nk = KEYS[12] .. task.id
    redis.call('RPUSH', nk, status)
    redis.call('PEXPIRE', nk, notify_ttl)
  end
  task.status = status
end

-- lease lost (or worker gone): back in line at its old place; attempt kept, no retry used
local function requeue(task)
  release(task)
  redis.call('HSET', task.key, 'status', 'pending', 'worker', '')
  redis.call('HDEL', task.key, 'start', 'bound')
  enqueue(task)
  bump('pending', 1)
  bump('requeued', 1)
end

local RUNNING = {running = true}
local PENDING_OR_RUNNING = {running = true, pending = true}

local function complete(id, attempt, exec_arg, result)
  local task = load(id)
  local why = check(task, attempt, RUNNING)
  if why then return reply(false, why, task) end
  local exec = tonumber(exec_arg)
  if not exec then exec = (now - (task.start or task.bound or now)) / 1000 end
  release(task)
  finish(task, 'completed', {'exec', exec, 'result', result})
  bump('exec_total', exec)
  bump('exec_count', 1)
  return reply(true, 'ok', task, 'running')
end

local function run()
if op == 'start' then
  local task = load(ARGV[4])
  local why = check(task, ARGV[5], RUNNING)
  if why then return reply(false, why, task) end
  if not task.start then
    redis.call('HSET', task.key, 'start', now)
    redis.call('ZREM', KEYS[7], task.id)
    if task.timeout then redis.call('ZADD', KEYS[8], now + math.floor(task.timeout * 1000), task.id) end
  end
  return reply(true, 'ok', task, 'running')

elseif op == 'complete' then
  return complete(ARGV[4], ARGV[5], ARGV[6], ARGV[7])

elseif op == 'complete_batch' then
  local out = {}
  for i = 0, tonumber(ARGV[4]) - 1 do
    local b = 5 + i * 4
    out[#out + 1] = complete(ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3])
  end
  return out

elseif op == 'fail' then
  local task = load(ARGV[4])
  local why = check(task, ARGV[5], RUNNING)
  if why then return reply(false, why, task) end
  release(task)
  if ARGV[7] == '1' and task.retries < task.maxr then
    local delay = math.min(tonumber(ARGV[8]) * (2 ^ task.retries), tonumber(ARGV[9]))
    local seq = redis.call('INCR', KEYS[13])
    redis.call('HSET', task.key, 'status', 'pending', 'worker', '', 'error', ARGV[6],
      'retries', task.retries + 1, 'seq', seq)
    redis.call('HDEL', task.key, 'start', 'bound')
    redis.call('ZADD', KEYS[9], now + math.floor(delay), task.id)
    bump('pending', 1)
    bump('retried', 1)
    task.status = 'pending'
  else
    finish(task, 'failed', {'error', ARGV[6]})
  end
  return reply(true, 'ok', task, 'running')

elseif op == 'timeout' then
  local task = load(ARGV[4])
  local why = check(task, ARGV[5], RUNNING)
  if why then return reply(false, why, task) end
  release(task)
  finish(task, 'timeout', {'error', 'timed out'})
  return reply(true, 'ok', task, 'running')

elseif op == 'cancel' then
  local task = load(ARGV[4])
  local why = check(task, '', PENDING_OR_RUNNING)
  if why then return reply(false, why, task) end
  local previous = task.status
  if previous == 'running' then
    local channel = ARGV[5]
    if channel and channel ~= '' and task.worker and task.worker ~= '' then
      redis.call('PUBLISH', channel, 'cancel:' .. task.id .. ':' .. task.worker)
    end
    release(task)
  else
    unqueue(task)
    bump('pending', -1)
  end
  finish(task, 'cancelled', {})
  return reply(true, 'ok', task, previous)

elseif op == 'requeue_expired' then
  local limit = tonumber(ARGV[4])
  local moved = {}
  local dead = {}
  for _, index in ipairs({KEYS[6], KEYS[7]}) do
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, limit)) do
      local task = load(id)
      if task and task.status == 'running' then
        if task.worker ~= '' and dead[task.worker] == nil then
          local exp = tonumber(redis.call('ZSCORE', KEYS[14], task.worker) or '0')
          dead[task.worker] = exp <= now
          if dead[task.worker] then redis.call('DEL', KEYS[18] .. task.worker) end
        end
        requeue(task)
        moved[#moved + 1] = id
      else
        redis.call('ZREM', index, id)
      end
    end
  end
  -- forget workers dead for long whose tasks have all been requeued
  local gone = redis.call('ZRANGEBYSCORE', KEYS[14], '-inf', now - tonumber(ARGV[5]), 'LIMIT', 0, limit)
  for _, wid in ipairs(gone) do
    if redis.call('SCARD', KEYS[5] .. wid) == 0 then
      redis.call('DEL', KEYS[4] .. wid, KEYS[18] .. wid)
      redis.call('ZREM', KEYS[14], wid)
      redis.call('ZREM', KEYS[15], wid)
    end
  end
  return moved

elseif op == 'timeout_overdue' then
  local moved = {}
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[8], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))) do
    local task = load(id)
    if task and task.status == 'running' then
      release(task)
      finish(task, 'timeout', {'error', 'timed out'})
      moved[#moved + 1] = id
    else
      redis.call('ZREM', KEYS[8], id)
    end
  end
  return moved

elseif op == 'promote' then
  local moved = {}
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[9], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))) do
    local task = load(id)
    redis.call('ZREM', KEYS[9], id)
    if task and task.status == 'pending' then
      enqueue(task)
      moved[#moved + 1] = id
    end
  end
  -- housekeeping: finished-task indexes outlive no task; empty queues leave the name set
  for _, status in ipairs({'completed', 'failed', 'cancelled', 'timeout'}) do
    redis.call('ZREMRANGEBYSCORE', KEYS[11] .. status, '-inf', now - task_ttl)
  end
  for _, q in ipairs(redis.call('SMEMBERS', KEYS[16])) do
    if redis.call('ZCARD', KEYS[2] .. q) == 0 then redis.call('SREM', KEYS[16], q) end
  end
  return moved

elseif op == 'deregister' then
  local wid = ARGV[4]
  local moved = {}
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[5] .. wid)) do
    local task = load(id)
    if task and task.status == 'running' and task.worker == wid then
      requeue(task)
      moved[#moved + 1] = id
    end
  end
  redis.call('DEL', KEYS[4] .. wid, KEYS[5] .. wid, KEYS[18] .. wid)
  redis.call('ZREM', KEYS[14], wid)
  redis.call('ZREM', KEYS[15], wid)
  return moved
end
return nil
end

local result = run()
if result == nil then return redis.error_reply('task_lifecycle: unknown op ' .. tostring(op)) end
flush()
return result
