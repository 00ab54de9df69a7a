-- sorted_feed/edit: replace the item of an existing id in place (its position stays).
-- KEYS[1] items      hash
-- KEYS[2] publishes  string counter
-- KEYS[3] seq        string counter: the feed's change sequence (every write adds 1)
-- ARGV[1] id   ARGV[2] item   ARGV[3] edit channel
-- Reply: {'ok', id, seq} | {'not_found', id} | {'wrongtype', key, expected, actual}
-- Event: edit 'id NUL seq NUL item'.
local items, publishes, seq = KEYS[1], KEYS[2], KEYS[3]
local id, item, channel = ARGV[1], ARGV[2], ARGV[3]

local bad = check_types({items, 'hash', publishes, 'string', seq, 'string'})
if bad then return bad end
bad = check_counters({publishes, seq})
if bad then return bad end
if redis.call('HEXISTS', items, id) == 0 then
  return {'not_found', id}
end
local n = int_str(redis.call('INCR', seq))
redis.call('INCR', publishes)
redis.call('HSET', items, id, item)
redis.call('PUBLISH', channel, id .. '\0' .. n .. '\0' .. item)
return {'ok', id, n}
