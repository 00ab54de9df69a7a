-- feed/retract: remove an item if it is there.
-- KEYS[1] ids    zset
-- KEYS[2] items  hash
-- ARGV[1] id   ARGV[2] retract channel
-- Reply: {'ok', 1} when it existed, {'ok', 0} when not | {'wrongtype', key, expected, actual}
-- Event: retract channel, payload id (only when it existed).
local ids, items = KEYS[1], KEYS[2]
local id, channel = ARGV[1], ARGV[2]

local bad = check_types({ids, 'zset', items, 'hash'})
if bad then return bad end
local existed = redis.call('ZSCORE', ids, id) or redis.call('HEXISTS', items, id) == 1
if not existed then
  return {'ok', 0}
end
redis.call('ZREM', ids, id)
redis.call('HDEL', items, id)
redis.call('PUBLISH', channel, id)
return {'ok', 1}
