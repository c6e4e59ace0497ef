-- worker_register: create or update a scheduling worker; inflight, resources in use and the
-- weighted round-robin state are kept, so re-registering never loses track of running tasks.
-- KEYS[1] worker hash   KEYS[2] workers zset (score = expiry ms)   KEYS[3] worker names zset
-- ARGV[1] worker id  ARGV[2] capacity (slots)  ARGV[3] weight  ARGV[4] queues "a,b"
-- ARGV[5] task types "x,y" ("" = all)  ARGV[6] resource capacity "cpu=2000,..." ("" = unconstrained)
-- ARGV[7] ttl ms   ARGV[8] delivery: "celery" (bindings are pushed to its Celery queue by
--   task_bind) | "none" (the caller hands assignments over)
-- ARGV[9] incarnation token of the registering process ("" = none); task_bind copies it into
--   each Celery message, so a worker can tell its own deliveries from a predecessor's
-- Returns: the new expiry (ms).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local exp = now + tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'cap', ARGV[2], 'weight', ARGV[3], 'queues', ARGV[4],
  'types', ARGV[5], 'rcap', ARGV[6], 'ttl', ARGV[7], 'exp', exp, 'drain', 0, 'implicit', 0,
  'deliver', ARGV[8] or 'none', 'inc', ARGV[9] or '')
redis.call('HSETNX', KEYS[1], 'inflight', 0)
redis.call('HSETNX', KEYS[1], 'rused', '')
redis.call('HSETNX', KEYS[1], 'cw', 0)
redis.call('HSETNX', KEYS[1], 'load', 0)
redis.call('HSETNX', KEYS[1], 'reg', now)
redis.call('ZADD', KEYS[2], exp, ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return exp
