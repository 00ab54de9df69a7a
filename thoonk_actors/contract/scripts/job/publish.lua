-- job/publish: queue one job (original thoonk-jobs publish, plus a duplicate check).
-- KEYS[1]  ids         list   (LPUSH normal, RPUSH priority)
-- KEYS[2]  items       hash   id -> item
-- KEYS[3]  published   zset   id -> publish ms
-- KEYS[4]  claimed     zset   (duplicate check)
-- KEYS[5]  stalled     set    (duplicate check)
-- KEYS[6]  cancelled   hash   (stale count cleared)
-- KEYS[7]  owners      hash   (stale owner cleared)
-- KEYS[8]  errors      hash   (stale error cleared)
-- KEYS[9]  orphans     hash   (stale mark cleared)
-- KEYS[10] publishes   string counter
-- KEYS[11] scheduled   zset   id -> due ms (delayed publish; written only then)
-- KEYS[12] ticks       hash   schedule -> '<last tick ms> <spec>' (recurring jobs; only with ARGV[8])
-- KEYS[13] result      hash   job.result:{<n>}:<id> (a result of an earlier job with this id is dropped)
-- KEYS[14] registry    set    optional; left out in cluster mode
-- ARGV[1] id   ARGV[2] item   ARGV[3] priority '1' | '0'
-- ARGV[4] publish channel      ARGV[5] object name (registry member)
-- ARGV[6] when: '' = now | 'd<ms>' = after ms by the server clock | 'a<ms>' = at epoch ms
-- ARGV[7] schedule channel
-- ARGV[8] schedule name ('' = not a tick)   ARGV[9] tick ms   ARGV[10] spec text
--   A tick of a recurring job: refused as a duplicate when the schedule's stored last
--   tick is not older (another process published it, and it may be finished already).
-- Reply: {'ok', id, publish_ms} (queued) | {'ok', id, publish_ms, due_ms} (scheduled)
--        | {'duplicate', id} | {'wrongtype', key, expected, actual}
-- Event: publish channel, payload id; a scheduled job also schedule channel, payload
-- id NUL due_ms (wakes waiting workers, whose next wait then stops at the due time).
-- A due time not after the server's now queues the job at once (as '' does).
local ids, items, published, claimed, stalled = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cancelled, owners, errors, orphans = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local publishes, scheduled, ticks, result, registry = KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14]
local id, item, priority, channel, name = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local when, schedule_channel = ARGV[6] or '', ARGV[7]
local tick_of, tick_ms, tick_spec = ARGV[8] or '', tonumber(ARGV[9]), ARGV[10]

-- Every refusal: all types, then the counter, then the registry, then `reply`.
local function refuse(reply)
  return check_types({ids, 'list', items, 'hash', published, 'zset', claimed, 'zset',
      stalled, 'set', cancelled, 'hash', owners, 'hash', errors, 'hash', orphans, 'hash',
      publishes, 'string', scheduled, 'zset', result, 'hash'})
    or (tick_of ~= '' and check_type(ticks, 'hash'))
    or check_counters({publishes})
    or (registry and check_types({registry, 'set'}))
    or reply
end

-- A tick published before (by any process) is a duplicate, even once its job is gone.
if tick_of ~= '' then
  local last, bad_tick = read('hash', 'HGET', ticks, tick_of)
  if bad_tick then return refuse(bad_tick) end
  local last_ms = last and tonumber(string.match(last, '^%-?%d+'))
  if last_ms and last_ms >= tick_ms then return refuse({'duplicate', id}) end
end
-- An id is taken while it has an item, a claim or a stall; finish and retract free it.
-- (These reads are the type checks of items, claimed and stalled.)
local taken, bad = read('hash', 'HEXISTS', items, id)
if bad then return refuse(bad) end
if taken == 1 then return refuse({'duplicate', id}) end
taken, bad = read('zset', 'ZSCORE', claimed, id)
if bad then return refuse(bad) end
if taken then return refuse({'duplicate', id}) end
taken, bad = read('set', 'SISMEMBER', stalled, id)
if bad then return refuse(bad) end
if taken == 1 then return refuse({'duplicate', id}) end

-- Entries an earlier job with this id left behind (original clients leave some) are
-- cleared; only what is there is written. A count, an owner or an error text may
-- be in keys that usually exist; an orphan mark or an old result in keys that
-- usually do not, so those two cost one EXISTS.
local counted, owned, noted, marked, old_result
counted, bad = read('hash', 'HEXISTS', cancelled, id)
if bad then return refuse(bad) end
owned, bad = read('hash', 'HEXISTS', owners, id)
if bad then return refuse(bad) end
noted, bad = read('hash', 'HEXISTS', errors, id)
if bad then return refuse(bad) end
marked, old_result = 0, false
if redis.call('EXISTS', orphans, result) > 0 then
  marked, bad = read('hash', 'HEXISTS', orphans, id)
  if bad then return refuse(bad) end
  local kind = redis.call('TYPE', result)['ok']
  if kind ~= 'none' and kind ~= 'hash' then
    return refuse({'wrongtype', result, 'hash', kind})
  end
  old_result = kind == 'hash'
end
local registered = 1
if registry then
  registered, bad = read('set', 'SISMEMBER', registry, name)
  if bad then return refuse(bad) end
end
bad = check_type(ids, 'list') or check_type(published, 'zset')
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
-- The counter first: a refused INCR changes nothing.
local total
total, bad = incr_first(publishes, 1)
if bad then return refuse(bad) end
if due then
  redis.call('ZADD', scheduled, int_str(due), id)
elseif priority == '1' then
  redis.call('RPUSH', ids, id)
else
  redis.call('LPUSH', ids, id)
end
redis.call('HSET', items, id, item)
redis.call('ZADD', published, int_str(now), id)
if counted == 1 then
  redis.call('HDEL', cancelled, id)
end
if owned == 1 then
  redis.call('HDEL', owners, id)
end
if noted == 1 then
  redis.call('HDEL', errors, id)
end
if marked == 1 then
  redis.call('HDEL', orphans, id)
end
if old_result then
  redis.call('DEL', result)
end
if registered == 0 then
  redis.call('SADD', registry, name)
end
if tick_of ~= '' then
  redis.call('HSET', ticks, tick_of, int_str(tick_ms) .. ' ' .. tick_spec)
end
redis.call('PUBLISH', channel, id)
if due then
  redis.call('PUBLISH', schedule_channel, id .. '\0' .. int_str(due))
  return {'ok', id, now, due}
end
return {'ok', id, now}
