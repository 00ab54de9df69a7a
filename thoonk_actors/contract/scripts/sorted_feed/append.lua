-- sorted_feed/append: add an item at the end.
-- KEYS[1] ids        list   the order
-- KEYS[2] items      hash
-- KEYS[3] idincr     string counter for generated ids
-- KEYS[4] publishes  string counter
-- KEYS[5] seq        string counter: the feed's change sequence (every write adds 1)
-- KEYS[6] registry   set    optional; left out in cluster mode
-- ARGV[1] id ('' = generate with INCR idincr)   ARGV[2] item
-- ARGV[3] publish channel   ARGV[4] position channel   ARGV[5] object name
-- Reply: {'ok', id, seq} | {'duplicate', id} | {'wrongtype', key, expected, actual}
-- Events (same seq): publish 'id NUL seq NUL item', then position 'id NUL seq NUL end'.
local ids, items, idincr, publishes, seq, registry = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, item, publish_channel, position_channel, name = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local bad = check_types_reg({ids, 'list', items, 'hash', idincr, 'string',
  publishes, 'string', seq, 'string'}, registry)
if bad then return bad end
bad = check_counters({idincr, publishes, seq})
if bad then return bad end
if id ~= '' and redis.call('HEXISTS', items, id) == 1 then
  return {'duplicate', id}
end

if id == '' then
  id = next_free_id(idincr, items)
end
local n = int_str(redis.call('INCR', seq))
redis.call('INCR', publishes)
redis.call('RPUSH', ids, id)
redis.call('HSET', items, id, item)
if registry then redis.call('SADD', registry, name) end
redis.call('PUBLISH', publish_channel, id .. '\0' .. n .. '\0' .. item)
redis.call('PUBLISH', position_channel, id .. '\0' .. n .. '\0end')
return {'ok', id, n}
