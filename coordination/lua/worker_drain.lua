-- worker_drain: set or clear a worker's draining flag (a draining worker gets no new tasks).
-- KEYS[1] worker hash
-- ARGV[1] 1 to drain, 0 to resume
-- Returns: 1, or 0 when the worker is unknown.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'drain', ARGV[1])
return 1
