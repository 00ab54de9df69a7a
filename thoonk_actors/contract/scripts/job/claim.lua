-- job/claim: atomically pop up to N ids from the right of job.ids and claim them.
-- Closes the original's BRPOP/claim gap: the id is never off job.ids unclaimed.
-- Ids whose item is gone (ghosts) or that are already claimed (duplicate list
-- entries, also a second entry of an id taken earlier in the same batch) are
-- popped and dropped, not claimed.
-- KEYS[1] ids        list   (pop from the right)
-- KEYS[2] items      hash
-- KEYS[3] claimed    zset   id -> claim ms
-- KEYS[4] owners     hash   id -> 'worker_id:token'
-- KEYS[5] tokens     string counter of claim tokens
-- KEYS[6] workers    zset   worker_id -> heartbeat ms (a claim is a sign of life)
-- KEYS[7] cancelled  hash   (read: failure count of each claimed job)
-- KEYS[8] leases     hash   id -> lease ms of the claim ('' lease: the entry is removed)
-- KEYS[9] scheduled  zset   id -> due ms; due jobs are moved to ids first (retry backoff)
-- KEYS[10] config    hash   (max_per_second, max_concurrent: 0 / unset = unlimited)
-- KEYS[11] limits    hash   the limiter: tat (rate limit, ms), held, held_ms (last hold)
-- ARGV[1] worker_id   ARGV[2] max jobs (>= 1)   ARGV[3] claim channel
-- ARGV[4] lease ms of these claims ('' = none: the reaper uses the config timeout)
-- Reply: {'ok', claim_ms, n, dropped, id1, item1, token1, count1, ..., idn, itemn, tokenn, countn
--         [, held, wait_ms]}
--        | {'wrongtype', key, expected, actual} | {'bad_config', key, field, value}
--   The trailing pair is there only when a limit took fewer jobs than asked:
--   held is 'rate' (try again in wait_ms) or 'concurrency' (wait for a claim to
--   end; wait_ms is a fallback). When the queue ran out instead (fewer than asked,
--   maybe none, and no limit cut the claim), the pair is 'drained', next_due_ms
--   (when the next scheduled job is due, server clock; -1: none): what job/promote
--   would tell, so an idle worker blocks at once without running it.
-- Limits (ext): max_per_second is a GCRA (a token bucket kept as one time, tat):
-- each claim moves tat on by 1000 / rate ms and a claim is allowed while tat is
-- less than a burst window (100 ms, at least one claim's interval) ahead of now.
-- max_concurrent caps ZCARD claimed. Original clients (BRPOP + ZADD) never run
-- this script, so their claims are not limited (they do count as claimed).
-- Event: claim channel, payload id, per claimed job.
-- The ids are read first (LRANGE from the right, one window per round) and popped
-- with one LTRIM once every check passed; every per-job step is one variadic call.
-- A claim of one job (get) takes the same steps with scalar commands (LINDEX, HGET,
-- ZSCORE, RPOP).
local ids, items, claimed, owners = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local tokens, workers, cancelled, leases, scheduled = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local config, limits = KEYS[10], KEYS[11]
local worker, want, channel, lease = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]

-- Every refusal (and a claim that takes nothing): all types first.
local function refuse(reply)
  return check_types({ids, 'list', items, 'hash', claimed, 'zset', owners, 'hash',
    tokens, 'string', workers, 'zset', cancelled, 'hash', leases, 'hash',
    scheduled, 'zset', config, 'hash', limits, 'hash'}) or reply
end

local now = now_ms()
-- Jobs whose retry backoff is over join the queue before anything is taken. The
-- read is the type check of scheduled; only when something is due are all types
-- checked (a refused claim changes nothing) and the due jobs moved.
do
  local due, bad = read('zset', 'ZRANGEBYSCORE', scheduled, '-inf', int_str(now), 'LIMIT', 0, 1)
  if bad then return refuse(bad) end
  if #due > 0 then
    bad = refuse(nil)
    if bad then return bad end
    promote_due(scheduled, ids, items, now, 1000)
  end
end

-- The limits: how many claims may start now (cap), and why fewer than asked.
local cap, held, wait_ms, interval, tat = want, nil, 0, nil, nil
do
  local rate, concurrent, bad
  rate, bad = config_int(config, 'max_per_second')
  if bad then return refuse(bad) end
  concurrent, bad = config_int(config, 'max_concurrent')
  if bad then return refuse(bad) end
  if concurrent and concurrent > 0 then
    local running
    running, bad = read('zset', 'ZCARD', claimed)
    if bad then return refuse(bad) end
    if concurrent - running < cap then
      cap = math.max(concurrent - running, 0)
      held, wait_ms = 'concurrency', 1000
    end
  end
  if rate and rate > 0 and cap > 0 then
    local stored
    stored, bad = read('hash', 'HGET', limits, 'tat')
    if bad then return refuse(bad) end
    interval = 1000 / rate
    local burst = math.max(interval, 100)
    tat = math.max(tonumber(stored) or now, now)
    local free = math.floor((now + burst - tat) / interval + 1e-9)
    if free < cap then
      cap = math.max(free, 0)
      held = 'rate'
      -- When the next claim fits: tat moves below now + burst - interval.
      wait_ms = math.max(math.ceil(tat + interval - burst - now), 1)
    end
  end
end

-- The reply's tail when a limit cut the claim; the limiter's record of it. Only
-- when the limit (not an empty queue) decided how many were taken.
local function limited(reply, n)
  if held and n == cap then
    reply[#reply + 1] = held
    reply[#reply + 1] = wait_ms
    redis.call('HSET', limits, 'held', held, 'held_ms', int_str(now))
  end
  if interval and n > 0 then
    redis.call('HSET', limits, 'tat', string.format('%.3f', tat + n * interval))
  end
  return reply
end

if cap == 0 then
  local bad = refuse(nil)
  if bad then return bad end
  return limited({'ok', now, 0, 0}, 0)
end
want = cap

-- The lease of the claims, recorded beside them (or an old entry removed).
local function record_leases(claimed_ids)
  if lease ~= '' then
    local pairs_ = {}
    for i, id in ipairs(claimed_ids) do
      pairs_[2 * i - 1] = id
      pairs_[2 * i] = lease
    end
    call_many('HSET', leases, pairs_)
  elseif redis.call('EXISTS', leases) == 1 then
    call_many('HDEL', leases, claimed_ids)
  end
end

-- Take the `n` entries looked at off the right end (one RPOP is cheaper than LTRIM).
local function pop(n)
  if n == 1 then
    redis.call('RPOP', ids)
  else
    redis.call('LTRIM', ids, 0, -(n + 1))
  end
end

-- One job (what get() asks for): the same steps, with scalar commands and none of
-- the batch's tables. Nothing can be in the batch twice here.
if want == 1 then
  local taken, dropped, id, item, count, last, bad = 0, 0, nil, nil, nil, nil, nil
  while not id do
    local candidate, found, score
    candidate, bad = read('list', 'LINDEX', ids, -(taken + 1))
    if bad then return refuse(bad) end
    if not candidate then break end
    taken = taken + 1
    found, bad = read('hash', 'HGET', items, candidate)
    if bad then return refuse(bad) end
    score, bad = read('zset', 'ZSCORE', claimed, candidate)
    if bad then return refuse(bad) end
    if found and not score then
      id, item = candidate, found
    else
      dropped = dropped + 1
    end
  end
  if not id then
    bad = refuse(nil)
    if bad then return bad end
    if taken > 0 then
      pop(taken)
    end
    return {'ok', now, 0, dropped, 'drained', next_due(scheduled)}
  end
  count, bad = read('hash', 'HGET', cancelled, id)
  if bad then return refuse(bad) end
  bad = check_type(owners, 'hash') or check_type(workers, 'zset') or check_type(leases, 'hash')
      or check_type(limits, 'hash')
  if bad then return refuse(bad) end
  last, bad = incr_first(tokens, 1)
  if bad then return refuse(bad) end
  pop(taken)
  local at, token = int_str(now), int_str(last)
  redis.call('ZADD', workers, at, worker)
  redis.call('ZADD', claimed, at, id)
  redis.call('HSET', owners, id, worker .. ':' .. token)
  record_leases({id})
  redis.call('PUBLISH', channel, id)
  return limited({'ok', now, 1, dropped, id, item, token, tonumber(count) or 0}, 1)
end

local got, payloads, seen = {}, {}, {}
local taken, dropped = 0, 0  -- list entries looked at (from the right), and dropped
while #got < want do
  local need = want - #got
  local window, found, claims, bad
  if need == 1 then
    window, bad = read('list', 'LINDEX', ids, -(taken + 1))
    window = {window or nil}
  else
    window, bad = read('list', 'LRANGE', ids, -(taken + need), -(taken + 1))
  end
  if bad then return refuse(bad) end
  if #window == 0 then break end
  local batch = {}
  for i = #window, 1, -1 do  -- pop order: right end first
    batch[#batch + 1] = window[i]
  end
  found, bad = read_each('hash', 'HMGET', 'HGET', items, batch)
  if bad then return refuse(bad) end
  claims, bad = read_each('zset', 'ZMSCORE', 'ZSCORE', claimed, batch)
  if bad then return refuse(bad) end
  for i, id in ipairs(batch) do
    if found[i] and not claims[i] and not seen[id] then
      seen[id] = true
      got[#got + 1] = id
      payloads[#got] = found[i]
    else
      dropped = dropped + 1
    end
  end
  taken = taken + #window
end

if #got == 0 then
  local bad = refuse(nil)
  if bad then return bad end
  if taken > 0 then
    pop(taken)
  end
  return {'ok', now, 0, dropped, 'drained', next_due(scheduled)}
end

local counts, bad = read_each('hash', 'HMGET', 'HGET', cancelled, got)
if bad then return refuse(bad) end
bad = check_type(owners, 'hash') or check_type(workers, 'zset') or check_type(leases, 'hash')
    or check_type(limits, 'hash')
if bad then return refuse(bad) end
-- The token counter first: a refused INCRBY changes nothing.
local last
last, bad = incr_first(tokens, #got)
if bad then return refuse(bad) end
pop(taken)
-- Scores go as text: a Lua number costs a float formatting per argument.
local at = int_str(now)
redis.call('ZADD', workers, at, worker)
local reply = {'ok', now, #got, dropped}
local scores, owned = {}, {}
local base = last - #got
for i, id in ipairs(got) do
  local token = int_str(base + i)
  scores[2 * i - 1] = at
  scores[2 * i] = id
  owned[2 * i - 1] = id
  owned[2 * i] = worker .. ':' .. token
  reply[4 * i + 1] = id
  reply[4 * i + 2] = payloads[i]
  reply[4 * i + 3] = token
  reply[4 * i + 4] = tonumber(counts[i]) or 0
end
call_many('ZADD', claimed, scores)
call_many('HSET', owners, owned)
record_leases(got)
for _, id in ipairs(got) do
  redis.call('PUBLISH', channel, id)
end
reply = limited(reply, #got)
if #got < want then  -- the list ran out (a limit's cut ends with #got == want)
  reply[#reply + 1] = 'drained'
  reply[#reply + 1] = next_due(scheduled)
end
return reply
