-- queue/put: add an item to a queue (normal: LPUSH, the back; priority: RPUSH, the head).
-- KEYS[1] ids        list
-- KEYS[2] items      hash
-- KEYS[3] publishes  string counter
-- KEYS[4] registry   set    optional; left out in cluster mode
-- ARGV[1] id   ARGV[2] item   ARGV[3] priority '1' | '0'   ARGV[4] object name
-- Reply: {'ok', id} | {'duplicate', id} | {'wrongtype', key, expected, actual}
-- No event: a queue is point-to-point.
local ids, items, publishes, registry = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, item, priority, name = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local bad = check_types_reg({ids, 'list', items, 'hash', publishes, 'string'}, registry)
if bad then return bad end
bad = check_counters({publishes})
if bad then return bad end
if redis.call('HEXISTS', items, id) == 1 then
  return {'duplicate', id}
end
redis.call('INCR', publishes)
if priority == '1' then
  redis.call('RPUSH', ids, id)
else
  redis.call('LPUSH', ids, id)
end
redis.call('HSET', items, id, item)
if registry then redis.call('SADD', registry, name) end
return {'ok', id}
