-- job/publish_many: queue several jobs at once; all or nothing on duplicates.
-- KEYS[1]  ids         list
-- KEYS[2]  items       hash
-- KEYS[3]  published   zset
-- KEYS[4]  claimed     zset   (duplicate check)
-- KEYS[5]  stalled     set    (duplicate check)
-- KEYS[6]  cancelled   hash
-- KEYS[7]  owners      hash
-- KEYS[8]  errors      hash
-- KEYS[9]  orphans     hash
-- KEYS[10] publishes   string counter
-- KEYS[11] scheduled   zset   id -> due ms (delayed publish; written only then)
-- KEYS[12 .. 11+n]     result key of each job, in ARGV order
-- KEYS[12+n] registry  set, optional; left out in cluster mode
-- ARGV[1] publish channel   ARGV[2] object name   ARGV[3] n
-- ARGV[4 + 3*(i-1) ..] id, item, priority ('1' | '0') for job i = 1..n
-- ARGV[4 + 3n] when: '' = now | 'd<ms>' = after ms (server clock) | 'a<ms>' = at epoch ms
-- ARGV[5 + 3n] schedule channel
-- Reply: {'ok', publish_ms, id1, ..., idn} (queued)
--        | {'ok', publish_ms, id1, ..., idn, due_ms} (scheduled: one due time for all)
--        | {'duplicate', id} | {'wrongtype', key, expected, actual}
-- Event: publish channel, payload id, once per job in order; scheduled jobs also
-- schedule channel, payload id NUL due_ms, once per job after the publish events.
-- A due time not after the server's now queues the jobs at once (as '' does).
-- Each step is one variadic call for the whole batch (HMGET / ZMSCORE / SMISMEMBER
-- for the duplicate check, one LPUSH, RPUSH, HSET, ZADD), not one call per job.
local ids, items, published, claimed, stalled = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cancelled, owners, errors, orphans = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local publishes, scheduled = KEYS[10], KEYS[11]
local channel, name, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local when, schedule_channel = ARGV[4 + 3 * n] or '', ARGV[5 + 3 * n]
local registry = KEYS[12 + n]

-- Every refusal: all types (result keys and registry included), then the counter.
local function refuse(reply)
  local spec = {ids, 'list', items, 'hash', published, 'zset', claimed, 'zset',
    stalled, 'set', cancelled, 'hash', owners, 'hash', errors, 'hash', orphans, 'hash',
    publishes, 'string', scheduled, 'zset'}
  for i = 1, n do
    spec[#spec + 1] = KEYS[11 + i]
    spec[#spec + 1] = 'hash'
  end
  return check_types_reg(spec, registry) or check_counters({publishes}) or reply
end

local list, results = {}, {}
for i = 1, n do
  list[i] = ARGV[4 + 3 * (i - 1)]
  results[i] = KEYS[11 + i]
end
if n == 0 then
  local bad = refuse(nil)
  if bad then return bad end
  redis.call('INCRBY', publishes, 0)
  return {'ok', now_ms()}
end

-- Duplicates: an id twice in the batch, or one that has an item, a claim or a stall.
-- The first in batch order is named. (These reads are the type checks of their keys.)
local found, claims, stalls, bad
found, bad = read_many('hash', 'HMGET', items, list)
if bad then return refuse(bad) end
claims, bad = read_many('zset', 'ZMSCORE', claimed, list)
if bad then return refuse(bad) end
stalls, bad = read_many('set', 'SMISMEMBER', stalled, list)
if bad then return refuse(bad) end
local seen = {}
for i, id in ipairs(list) do
  if seen[id] or found[i] or claims[i] or stalls[i] == 1 then
    return refuse({'duplicate', id})
  end
  seen[id] = true
end

-- Entries earlier jobs with these ids left behind, and their old results: these
-- keys are usually missing, then nothing is written to them.
local here, old_results
here, bad = existing({cancelled, 'hash', owners, 'hash', errors, 'hash', orphans, 'hash'})
if bad then return refuse(bad) end
local spec = {}
for i = 1, n do
  spec[2 * i - 1] = results[i]
  spec[2 * i] = 'hash'
end
old_results, bad = existing(spec)
if bad then return refuse(bad) end
local registered = 1
if registry then
  registered, bad = read('set', 'SISMEMBER', registry, name)
  if bad then return refuse(bad) end
end
bad = check_types({ids, 'list', published, 'zset'})
if bad then return refuse(bad) end

local now = now_ms()
local due = nil
if when ~= '' then
  local kind, ms = string.sub(when, 1, 1), tonumber(string.sub(when, 2))
  if kind == 'd' then due = now + ms else due = ms end
  if due <= now then
    due = nil
  else
    bad = check_type(scheduled, 'zset')
    if bad then return refuse(bad) end
  end
end
-- The counter first: a refused INCRBY changes nothing.
local counted
counted, bad = incr_first(publishes, n)
if bad then return refuse(bad) end
-- Pushes on the two ends commute, so one LPUSH of the normal ids and one RPUSH of the
-- priority ids, each in batch order, leave the list one push per job would.
local left, right, fields, scores = {}, {}, {}, {}
local at = int_str(now)  -- as text: a Lua number costs a float formatting per argument
for i, id in ipairs(list) do
  local base = 4 + 3 * (i - 1)
  if ARGV[base + 2] == '1' then
    right[#right + 1] = id
  else
    left[#left + 1] = id
  end
  fields[2 * i - 1] = id
  fields[2 * i] = ARGV[base + 1]
  scores[2 * i - 1] = at
  scores[2 * i] = id
end
if due then
  -- Delayed: every job of the batch waits in job.scheduled; promote LPUSHes them.
  local entries, at_due = {}, int_str(due)
  for i, id in ipairs(list) do
    entries[2 * i - 1] = at_due
    entries[2 * i] = id
  end
  call_many('ZADD', scheduled, entries)
else
  call_many('LPUSH', ids, left)
  call_many('RPUSH', ids, right)
end
call_many('HSET', items, fields)
call_many('ZADD', published, scores)
for _, key in ipairs({cancelled, owners, errors, orphans}) do
  if here[key] then
    call_many('HDEL', key, list)
  end
end
for _, key in ipairs(results) do
  if old_results[key] then
    redis.call('DEL', key)
  end
end
if registered == 0 then
  redis.call('SADD', registry, name)
end
local reply = {'ok', now}
for i, id in ipairs(list) do
  redis.call('PUBLISH', channel, id)
  reply[i + 2] = id
end
if due then
  local payload_due = '\0' .. int_str(due)
  for _, id in ipairs(list) do
    redis.call('PUBLISH', schedule_channel, id .. payload_due)
  end
  reply[#reply + 1] = due
end
return reply
