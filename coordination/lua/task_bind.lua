-- task_bind: bind PENDING tasks to fitting live workers, each RUNNING with attempt + 1 and a lease.
-- KEYS[1] task hash base "{p}:task:"    KEYS[2] queue priority zset base "{p}:tqp:"
-- KEYS[3] queue fifo zset base "{p}:tqf:" KEYS[4] worker hash base "{p}:tw:"
-- KEYS[5] worker task set base "{p}:twt:" (per-id keys are base .. id: same hash tag, same slot)
-- KEYS[6] workers zset (score = expiry ms)  KEYS[7] worker names zset (score 0, byte order)
-- KEYS[8] leases zset  KEYS[9] unstarted zset (start deadlines of bindings not started at
--   once)  KEYS[10] deadlines zset  KEYS[11] stats hash
-- KEYS[12] round robin cursor (id of the worker chosen last)
-- KEYS[13] Celery worker queue base "{p}.w." (a worker's queue list is base .. worker id)
-- ARGV[1] mode: push (any fitting worker, up to limit) | pull (ARGV[9] only) | cas (ARGV[10] to ARGV[9])
-- ARGV[2] task order: fifo | priority     ARGV[3] worker choice: rr | ll | wrr
-- ARGV[4] limit   ARGV[5] max concurrent RUNNING tasks   ARGV[6] lease ms ("" = the worker's ttl)
-- ARGV[7] start timeout ms
-- ARGV[8] scan limit (unfitting tasks skipped before giving up)   ARGV[9] worker id (pull, cas)
-- ARGV[10] task id (cas)   ARGV[11] pull: ttl ms to register an unknown worker implicitly, or
--   to renew an expired one ("" = no); cas: "start" to start the task at once (the caller
--   executes it)
-- ARGV[12] delivery: "celery" = consider only workers registered with delivery celery, and
--   enqueue each binding's Celery message (protocol 2) on the worker's queue in this same
--   step, so binding and handing over cannot be separated by a crash (such a binding is
--   started at once: no start deadline is needed); "" = all workers, the caller hands
--   assignments over and must start them
-- ARGV[13] seconds between the soft and the hard time limit   ARGV[14] message origin
-- Returns: {reason, task1, task2, ...}, each task a flat field/value list after binding
--   (push: the fields of an Assignment; pull and cas: the whole task hash).
--   reason: ok | max_concurrent | no_worker | task_gone | no_fit
-- Pull bindings, cas bindings with "start" and celery deliveries are started at once (start
-- time, timeout deadline); any other push/cas binding must be started (task_lifecycle start)
-- before the start timeout (KEYS[9]) or the lease sweep requeues it.
local mode, order, choice = ARGV[1], ARGV[2], ARGV[3]
local limit, maxc = tonumber(ARGV[4]), tonumber(ARGV[5])
local lease_ms, start_ms, scan = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local deliver, grace, origin = ARGV[12] or '', tonumber(ARGV[13]) or 0, ARGV[14] or ''
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
    if amount ~= 0 then parts[#parts + 1] = name .. '=' .. string.format('%.0f', amount) end
  end
  table.sort(parts)
  return table.concat(parts, ',')
end

local function load_worker(id)
  local f = redis.call('HMGET', KEYS[4] .. id, 'cap', 'inflight', 'weight', 'queues', 'types',
    'rcap', 'rused', 'drain', 'load', 'cw', 'exp', 'ttl', 'deliver', 'inc')
  if not f[1] then return nil end
  local w = {id = id, cap = tonumber(f[1]), inflight = tonumber(f[2]) or 0,
    weight = tonumber(f[3]) or 1, queues = {}, qlist = {}, types = nil, rcap = nil,
    rused = parse_res(f[7]), drain = f[8] == '1', load = tonumber(f[9]) or 0,
    cw = tonumber(f[10]) or 0, exp = tonumber(f[11]) or 0, ttl = tonumber(f[12]), dirty = false,
    celery = f[13] == 'celery', inc = f[14] or ''}
  for q in string.gmatch(f[4] or '', '[^,]+') do
    w.queues[q] = true
    w.qlist[#w.qlist + 1] = q
  end
  if f[5] and f[5] ~= '' then
    w.types = {}
    for ty in string.gmatch(f[5], '[^,]+') do w.types[ty] = true end
  end
  if f[6] and f[6] ~= '' then w.rcap = parse_res(f[6]) end
  return w
end

local function has_slot(w)
  return w.exp > now and not w.drain and w.inflight < w.cap and (deliver ~= 'celery' or w.celery)
end

-- The Celery protocol 2 message kombu's Redis transport expects on a queue list. The payload
-- is stored as "[args,kwargs]", so the body is that array with Celery's embed appended.
local EMBED = ',{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]'
local function celery_message(id, attempt, name, payload, timeout, queue, inc)
  local limits = {cjson.null, cjson.null}
  if timeout then limits = {timeout + grace, timeout} end
  local headers = {lang = 'py', task = name, id = id, shadow = cjson.null, eta = cjson.null,
    expires = cjson.null, group = cjson.null, group_index = cjson.null, retries = attempt - 1,
    timelimit = limits, root_id = id, parent_id = cjson.null,
    argsrepr = string.sub(payload, 1, 1024), kwargsrepr = '', origin = origin,
    ignore_result = true, replaced_task_nesting = 0, stamped_headers = cjson.null,
    coord_task_id = id, coord_attempt = attempt, coord_inc = inc}
  local properties = {correlation_id = id, reply_to = cjson.null, delivery_mode = 2,
    delivery_info = {exchange = '', routing_key = queue}, priority = 0,
    body_encoding = 'utf-8', delivery_tag = id .. '.' .. attempt}
  return cjson.encode({body = string.sub(payload, 1, -2) .. EMBED,
    ['content-encoding'] = 'utf-8', ['content-type'] = 'application/json',
    headers = headers, properties = properties})
end

local function fits(w, task)
  if not has_slot(w) or not w.queues[task.queue] then return false end
  if w.types and not w.types[task.type] then return false end
  if w.rcap then
    for name, amount in pairs(task.res) do
      if (w.rcap[name] or 0) - (w.rused[name] or 0) < amount then return false end
    end
  end
  return true
end

-- a less loaded than b: lower inflight/capacity (exact, cross-multiplied), then lower load
local function less_loaded(a, b)
  local x, y = a.inflight * b.cap, b.inflight * a.cap
  if x ~= y then return x < y end
  return a.load < b.load
end

local rr_pos = nil
local rr_chosen = nil

local function choose(wlist, task)
  if choice == 'rr' then
    local n = #wlist
    if rr_pos == nil then
      rr_pos = 0
      local cursor = redis.call('GET', KEYS[12])
      if cursor then rr_pos = redis.call('ZLEXCOUNT', KEYS[7], '-', '[' .. cursor) end
    end
    for step = 1, n do
      local i = (rr_pos + step - 1) % n + 1
      if fits(wlist[i], task) then
        rr_pos = i
        rr_chosen = wlist[i].id
        return wlist[i]
      end
    end
    return nil
  end
  local best = nil
  local total = 0
  for _, w in ipairs(wlist) do
    if fits(w, task) then
      if choice == 'wrr' then
        w.cw = w.cw + w.weight
        total = total + w.weight
        w.dirty = true
        if best == nil or w.cw > best.cw then best = w end
      elseif best == nil or less_loaded(w, best) then
        best = w
      end
    end
  end
  if best and choice == 'wrr' then best.cw = best.cw - total end
  return best
end

-- one read per task: what fitting needs and what the reply and the Celery message carry
local function load_task(id)
  local f = redis.call('HMGET', KEYS[1] .. id, 'status', 'queue', 'type', 'res', 'timeout',
    'attempt', 'start', 'name', 'payload', 'prio')
  if not f[1] then return nil end
  return {id = id, status = f[1], queue = f[2], type = f[3], res = parse_res(f[4]),
    timeout = tonumber(f[5]), timeout_raw = f[5], attempt = tonumber(f[6]) or 0, start = f[7],
    name = f[8], payload = f[9] or '[[],{}]', prio = f[10]}
end

local running = tonumber(redis.call('HGET', KEYS[11], 'running') or '0')
local out = {'ok'}

local function bind(task, w, started)
  local key = KEYS[1] .. task.id
  local attempt = task.attempt + 1
  if started then
    redis.call('HSET', key, 'status', 'running', 'worker', w.id, 'bound', now, 'attempt', attempt,
      'start', now)
  else
    redis.call('HSET', key, 'status', 'running', 'worker', w.id, 'bound', now, 'attempt', attempt)
    if task.start then redis.call('HDEL', key, 'start') end
  end
  redis.call('ZREM', KEYS[2] .. task.queue, task.id)
  redis.call('ZREM', KEYS[3] .. task.queue, task.id)
  redis.call('ZADD', KEYS[8], now + (lease_ms or w.ttl or 30000), task.id)
  redis.call('SADD', KEYS[5] .. w.id, task.id)
  if started then
    if task.timeout then redis.call('ZADD', KEYS[10], now + math.floor(task.timeout * 1000), task.id) end
  else
    redis.call('ZADD', KEYS[9], now + start_ms, task.id)
  end
  w.inflight = w.inflight + 1
  for name, amount in pairs(task.res) do w.rused[name] = (w.rused[name] or 0) + amount end
  w.dirty = true
  running = running + 1
  if mode ~= 'pull' and deliver == 'celery' then
    local queue = KEYS[13] .. w.id
    redis.call('LPUSH', queue, celery_message(task.id, attempt, task.name, task.payload,
      task.timeout, queue, w.inc))
  end
  if mode == 'push' then
    -- only what an Assignment needs (a pull caller gets the whole task)
    out[#out + 1] = {'id', task.id, 'attempt', attempt, 'worker', w.id, 'queue', task.queue,
      'name', task.name, 'type', task.type, 'payload', task.payload,
      'timeout', task.timeout_raw, 'prio', task.prio}
  else
    out[#out + 1] = redis.call('HGETALL', key)
  end
end

local function save(wlist)
  for _, w in ipairs(wlist) do
    if w.dirty then
      redis.call('HSET', KEYS[4] .. w.id, 'inflight', w.inflight, 'rused', format_res(w.rused), 'cw', w.cw)
    end
  end
  local bound = #out - 1
  if bound > 0 then
    redis.call('HINCRBY', KEYS[11], 'running', bound)
    redis.call('HINCRBY', KEYS[11], 'pending', -bound)
  end
  if rr_chosen then redis.call('SET', KEYS[12], rr_chosen) end
end

if running >= maxc then return {'max_concurrent'} end

if mode == 'cas' then
  local w = load_worker(ARGV[9])
  if not w then return {'no_worker'} end
  local task = load_task(ARGV[10])
  if not task or task.status ~= 'pending' or not redis.call('ZSCORE', KEYS[2] .. task.queue, task.id) then
    return {'task_gone'}
  end
  if not fits(w, task) then return {'no_fit'} end
  bind(task, w, ARGV[11] == 'start' or deliver == 'celery')
  save({w})
  return out
end

local wlist = {}
if mode == 'pull' then
  local id = ARGV[9]
  local w = load_worker(id)
  if (not w or w.exp <= now) and ARGV[11] ~= '' then
    local exp = now + tonumber(ARGV[11])
    if not w then
      redis.call('HSET', KEYS[4] .. id, 'id', id, 'cap', 1, 'inflight', 0, 'weight', 1,
        'queues', 'default', 'types', '', 'rcap', '', 'rused', '', 'drain', 0, 'load', 0, 'cw', 0,
        'reg', now, 'ttl', ARGV[11], 'implicit', 1)
    end
    redis.call('HSET', KEYS[4] .. id, 'exp', exp)
    redis.call('ZADD', KEYS[6], exp, id)
    redis.call('ZADD', KEYS[7], 0, id)
    w = load_worker(id)
  end
  if not w or w.exp <= now then return {'no_worker'} end
  wlist[1] = w
  choice = 'll' -- one worker: nothing to choose, and no round-robin/weighted state to move
  limit = 1
else
  for _, id in ipairs(redis.call('ZRANGE', KEYS[7], 0, -1)) do
    -- a name without a record stays in the list (never fits) so positions match ZLEXCOUNT
    wlist[#wlist + 1] = load_worker(id) or {id = id, cap = 0, inflight = 0, weight = 0,
      queues = {}, qlist = {}, rused = {}, drain = true, load = 0, cw = 0, exp = 0}
  end
end

-- candidate queues: those served by a worker with a free slot; free slots bound the scan, so
-- a dispatch that finds the cluster full costs a few reads instead of a walk of the queue
local qstates, seen = {}, {}
local free = 0
for _, w in ipairs(wlist) do
  if has_slot(w) then
    free = free + (w.cap - w.inflight)
    for _, q in ipairs(w.qlist) do
      if not seen[q] then
        seen[q] = true
        local key = (order == 'fifo') and (KEYS[3] .. q) or (KEYS[2] .. q)
        qstates[#qstates + 1] = {key = key, off = 0, head = nil, score = nil, done = false,
          buf = {}, bi = 1}
      end
    end
  end
end

-- queue heads are read in chunks (one ZRANGE per chunk, not per task), no larger than the
-- bindings still possible; qs.off is the rank of the next unread entry once bound ones are
-- gone (bound entries leave the set, skipped ones stay)
local function peek(qs)
  if qs.bi > #qs.buf then
    local chunk = math.max(1, math.min(limit - (#out - 1), free, 256))
    qs.buf = redis.call('ZRANGE', qs.key, qs.off, qs.off + chunk - 1, 'WITHSCORES')
    qs.bi = 1
  end
  if qs.buf[qs.bi] then
    qs.head, qs.score = qs.buf[qs.bi], tonumber(qs.buf[qs.bi + 1])
    qs.bi = qs.bi + 2
  else
    qs.done = true
  end
end

local skipped = 0
while #out - 1 < limit and running < maxc and free > 0 do
  local best = nil
  for _, qs in ipairs(qstates) do
    if qs.head == nil and not qs.done then peek(qs) end
    if qs.head and (best == nil or qs.score < best.score) then best = qs end
  end
  if best == nil then break end
  local task = load_task(best.head)
  if task == nil or task.status ~= 'pending' then
    -- an index entry without a pending task behind it: drop it (malformed data is skipped)
    if task then
      redis.call('ZREM', KEYS[2] .. task.queue, best.head)
      redis.call('ZREM', KEYS[3] .. task.queue, best.head)
    end
    redis.call('ZREM', best.key, best.head)
    best.head = nil
  else
    local w = choose(wlist, task)
    if w then
      bind(task, w, mode == 'pull' or deliver == 'celery')
      free = free - 1
      best.head = nil
    else
      best.off = best.off + 1
      best.head = nil
      skipped = skipped + 1
      if skipped > scan then break end
    end
  end
end
save(wlist)
return out
