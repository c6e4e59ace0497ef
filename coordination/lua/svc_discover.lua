-- svc_discover: pick one live instance of a name by strategy, in one round trip.
-- KEYS[1] per-name index ZSET (id -> expires_at ms)
-- KEYS[2] instance hash base "{p}:svc:" (the script appends each id)
-- KEYS[3] round-robin counter of the name, KEYS[4] smooth weighted round-robin hash of the name
-- ARGV[1] strategy (round_robin|random|weighted_round_robin|least_connections|least_loaded)
-- ARGV[2] random number in [0, 1) from the caller, ARGV[3] failover (1 = skip ejected instances)
-- ARGV[4] sticky key ('' = none; else rendezvous hashing), ARGV[5] state key TTL ms
-- Returns {} when no instance is alive, else {panic (0|1), flat HGETALL of the chosen instance}.
-- Candidates: not expired, status healthy or unknown, and (failover) not ejected. With none,
-- panic: the least-bad live instance (shortest ejection, then healthy before unhealthy).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local strategy, rnd, failover = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
if #ids == 0 then return {} end
if strategy == 'round_robin' or strategy == 'weighted_round_robin' then
  table.sort(ids) -- a stable order: the index is sorted by expiry, which moves with heartbeats
end

local all, cands, positive = {}, {}, false
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', KEYS[2] .. id, 'status', 'weight', 'load', 'active', 'conns',
    'ej_until', 'fails')
  if v[1] and v[1] ~= 'offline' then
    local r = {id = id, status = v[1], weight = tonumber(v[2]) or 1, load = tonumber(v[3]) or 0,
      active = tonumber(v[4]) or 0, conns = tonumber(v[5]) or 0,
      ej = tonumber(v[6]) or 0, fails = tonumber(v[7]) or 0}
    all[#all + 1] = r
    if r.status ~= 'unhealthy' and not (failover and r.ej > now) then
      cands[#cands + 1] = r
      if r.weight > 0 then positive = true end
    end
  end
end
if #all == 0 then return {} end

local function pick_min(list, a, b)
  local best, ties = nil, {}
  for _, r in ipairs(list) do
    if best == nil or r[a] < best[a] or (r[a] == best[a] and r[b] < best[b]) then
      best, ties = r, {r}
    elseif r[a] == best[a] and r[b] == best[b] then
      ties[#ties + 1] = r
    end
  end
  return ties[math.floor(rnd * #ties) + 1]
end

local chosen, panic = nil, 0
if #cands == 0 then
  panic = 1
  for _, r in ipairs(all) do
    r.ejleft = math.max(r.ej - now, 0)
    r.bad = (r.status == 'unhealthy') and 1 or 0
    r.badness = r.ejleft * 2 + r.bad -- ejection dominates, then health
  end
  chosen = pick_min(all, 'badness', 'fails')
else
  if positive then -- weight 0 means drained: skipped while any instance has weight
    local kept = {}
    for _, r in ipairs(cands) do if r.weight > 0 then kept[#kept + 1] = r end end
    cands = kept
  else
    for _, r in ipairs(cands) do r.weight = 1 end
  end
  local ttl = tonumber(ARGV[5])
  if ARGV[4] ~= '' then
    local best = -1
    for _, r in ipairs(cands) do
      local score = tonumber(string.sub(redis.sha1hex(ARGV[4] .. '\0' .. r.id), 1, 12), 16)
      if score > best then best, chosen = score, r end
    end
  elseif strategy == 'round_robin' then
    local n = redis.call('INCR', KEYS[3])
    redis.call('PEXPIRE', KEYS[3], ttl)
    chosen = cands[(n - 1) % #cands + 1]
  elseif strategy == 'random' then
    chosen = cands[math.floor(rnd * #cands) + 1]
  elseif strategy == 'weighted_round_robin' then
    local flat = redis.call('HGETALL', KEYS[4])
    local cur = {}
    for i = 1, #flat, 2 do cur[flat[i]] = tonumber(flat[i + 1]) end
    local total, best = 0, nil
    for _, r in ipairs(cands) do
      r.cw = (cur[r.id] or 0) + r.weight
      total = total + r.weight
      if best == nil or r.cw > best.cw then best = r end
    end
    best.cw = best.cw - total
    local out = {}
    for _, r in ipairs(cands) do
      out[#out + 1] = r.id
      out[#out + 1] = r.cw
    end
    redis.call('DEL', KEYS[4]) -- rebuilt from the candidates: no field outlives its instance
    redis.call('HSET', KEYS[4], unpack(out))
    redis.call('PEXPIRE', KEYS[4], ttl)
    chosen = best
  elseif strategy == 'least_connections' then
    chosen = pick_min(cands, 'active', 'conns')
  elseif strategy == 'least_loaded' then
    chosen = pick_min(cands, 'load', 'active')
  else
    return redis.error_reply('unknown strategy ' .. strategy)
  end
end
return {panic, redis.call('HGETALL', KEYS[2] .. chosen.id)}
