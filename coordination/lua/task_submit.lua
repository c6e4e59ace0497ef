-- task_submit: create tasks (one or a batch) as PENDING, in their queue or in the delayed set.
-- KEYS[1] task hash base "{p}:task:" (a task's key is base .. id: same hash tag, same slot)
-- KEYS[2] queue priority zset base "{p}:tqp:"   KEYS[3] queue fifo zset base "{p}:tqf:"
-- KEYS[4] delayed zset   KEYS[5] stats hash   KEYS[6] submit sequence counter
-- KEYS[7] queue names set   KEYS[8] idempotency key base "{p}:tidem:"
-- ARGV[1] idempotency key ttl (ms)   ARGV[2] number of tasks n
-- ARGV[3..] 12 fields per task: id, name, type, queue, priority, timeout seconds|"",
--   resources "name=amount,..."|"", payload JSON "[args,kwargs]", max_retries, countdown ms|"",
--   eta ms|"",
--   idempotency key|""
-- ARGV[3 + n*12] pub/sub channel that wakes the worker-side dispatchers ("" = none); it is
--   not a key, so it is passed as an argument
-- Returns: the task ids in order (the existing id when an idempotency key was seen before).
-- Priority score = (100 - priority) * 2^45 + sequence: higher priority first, FIFO inside one.
local SHIFT = 35184372088832
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[2])
local out = {}
local created = 0
local seq = redis.call('INCRBY', KEYS[6], n) - n -- one INCRBY for the batch; gaps are harmless
local queues = {}
local queued = 0
for i = 0, n - 1 do
  local b = 3 + i * 12
  local id, queue, prio, idem = ARGV[b], ARGV[b + 3], tonumber(ARGV[b + 4]), ARGV[b + 11]
  local existing = nil
  if idem ~= '' then
    existing = redis.call('GET', KEYS[8] .. idem)
    if not existing then
      redis.call('SET', KEYS[8] .. idem, id, 'PX', ARGV[1])
    end
  end
  if existing then
    out[#out + 1] = existing
  else
    seq = seq + 1
    redis.call('HSET', KEYS[1] .. id, 'id', id, 'name', ARGV[b + 1], 'type', ARGV[b + 2],
      'queue', queue, 'prio', prio, 'status', 'pending', 'attempt', 0, 'retries', 0,
      'maxr', ARGV[b + 8], 'payload', ARGV[b + 7], 'res', ARGV[b + 6], 'timeout', ARGV[b + 5],
      'sub', now, 'seq', seq, 'idem', idem)
    local due = nil
    if ARGV[b + 9] ~= '' then due = now + tonumber(ARGV[b + 9]) end
    if ARGV[b + 10] ~= '' then due = tonumber(ARGV[b + 10]) end
    if due and due > now then
      redis.call('ZADD', KEYS[4], due, id)
    else
      redis.call('ZADD', KEYS[2] .. queue, string.format('%.0f', (100 - prio) * SHIFT + seq), id)
      redis.call('ZADD', KEYS[3] .. queue, seq, id)
      queued = queued + 1
      if not queues[queue] then
        queues[queue] = true
        redis.call('SADD', KEYS[7], queue)
      end
    end
    created = created + 1
    out[#out + 1] = id
  end
end
if created > 0 then
  redis.call('HINCRBY', KEYS[5], 'pending', created)
  redis.call('HINCRBY', KEYS[5], 'submitted', created)
end
local channel = ARGV[3 + n * 12]
if queued > 0 and channel and channel ~= '' then
  redis.call('PUBLISH', channel, 'work')
end
return out
