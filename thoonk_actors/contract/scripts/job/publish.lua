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
-- KEYS[11] result      hash   job.result:{<n>}:<id> (a result of an earlier job with this id is dropped)
-- KEYS[12] registry    set    optional; left out in cluster mode
-- ARGV[1] id   ARGV[2] item   ARGV[3] priority '1' | '0'
-- ARGV[4] publish channel      ARGV[5] object name (registry member)
-- Reply: {'ok', id, publish_ms} | {'duplicate', id} | {'wrongtype', key, expected, actual}
-- Event: publish channel, payload id.
local ids, items, published, claimed, stalled = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cancelled, owners, errors, orphans = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local publishes, result, registry = KEYS[10], KEYS[11], KEYS[12]
local id, item, priority, channel, name = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local bad = check_types({ids, 'list', items, 'hash', published, 'zset', claimed, 'zset',
  stalled, 'set', cancelled, 'hash', owners, 'hash', errors, 'hash', orphans, 'hash',
  publishes, 'string', result, 'hash'})
if bad then return bad end
bad = check_counters({publishes})
if bad then return bad end
if registry then
  bad = check_types({registry, 'set'})
  if bad then return bad end
end
-- An id is taken while it has an item, a claim or a stall; finish and retract free it.
if redis.call('HEXISTS', items, id) == 1 or redis.call('ZSCORE', claimed, id)
    or redis.call('SISMEMBER', stalled, id) == 1 then
  return {'duplicate', id}
end

local now = now_ms()
-- The counter first: if it holds garbage INCR fails before anything else is written.
redis.call('INCR', publishes)
if priority == '1' then
  redis.call('RPUSH', ids, id)
else
  redis.call('LPUSH', ids, id)
end
redis.call('HSET', items, id, item)
redis.call('ZADD', published, now, id)
redis.call('HDEL', cancelled, id)
redis.call('HDEL', owners, id)
redis.call('HDEL', errors, id)
redis.call('HDEL', orphans, id)
redis.call('DEL', result)
if registry then
  redis.call('SADD', registry, name)
end
redis.call('PUBLISH', channel, id)
return {'ok', id, now}
