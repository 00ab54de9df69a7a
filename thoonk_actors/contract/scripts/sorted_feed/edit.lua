-- sorted_feed/edit: replace the item of an existing id in place (its position stays).
-- KEYS[1] items      hash
-- KEYS[2] publishes  string counter
-- ARGV[1] id   ARGV[2] item   ARGV[3] edit channel
-- Reply: {'ok', id} | {'not_found', id} | {'wrongtype', key, expected, actual}
-- Event: edit 'id NUL item'.
local items, publishes = KEYS[1], KEYS[2]
local id, item, channel = ARGV[1], ARGV[2], ARGV[3]

local bad = check_types({items, 'hash', publishes, 'string'})
if bad then return bad end
bad = check_counters({publishes})
if bad then return bad end
if redis.call('HEXISTS', items, id) == 0 then
  return {'not_found', id}
end
redis.call('INCR', publishes)
redis.call('HSET', items, id, item)
redis.call('PUBLISH', channel, id .. '\0' .. item)
return {'ok', id}
