-- sorted_feed/publish_after: add an item just after an existing id.
-- Uses LINSERT (the original deck scripts wrongly used LPUSH).
-- KEYS[1] ids        list   the order
-- KEYS[2] items      hash
-- KEYS[3] idincr     string counter for generated ids
-- KEYS[4] publishes  string counter
-- KEYS[5] seq        string counter: the feed's change sequence (every write adds 1)
-- KEYS[6] registry   set    optional; left out in cluster mode
-- ARGV[1] anchor id   ARGV[2] id ('' = generate with INCR idincr)   ARGV[3] item
-- ARGV[4] publish channel   ARGV[5] position channel   ARGV[6] object name
-- Reply: {'ok', id, seq} | {'not_found', anchor} | {'duplicate', id}
--        | {'wrongtype', key, expected, actual}
-- Events (same seq): publish 'id NUL seq NUL item', then position 'id NUL seq NUL after NUL anchor'.
local ids, items, idincr, publishes, seq, registry = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local anchor, id, item = ARGV[1], ARGV[2], ARGV[3]
local publish_channel, position_channel, name = ARGV[4], ARGV[5], ARGV[6]

local bad = check_types_reg({ids, 'list', items, 'hash', idincr, 'string',
  publishes, 'string', seq, 'string'}, registry)
if bad then return bad end
bad = check_counters({idincr, publishes, seq})
if bad then return bad end
if not redis.call('LPOS', ids, anchor) then
  return {'not_found', anchor}
end
if id ~= '' and redis.call('HEXISTS', items, id) == 1 then
  return {'duplicate', id}
end

if id == '' then
  id = next_free_id(idincr, items)
end
local n = int_str(redis.call('INCR', seq))
redis.call('INCR', publishes)
redis.call('LINSERT', ids, 'AFTER', anchor, id)
redis.call('HSET', items, id, item)
if registry then redis.call('SADD', registry, name) end
redis.call('PUBLISH', publish_channel, id .. '\0' .. n .. '\0' .. item)
redis.call('PUBLISH', position_channel, id .. '\0' .. n .. '\0after\0' .. anchor)
return {'ok', id, n}
