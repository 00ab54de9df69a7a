-- sorted_feed/retract: remove an item if it is there.
-- KEYS[1] ids    list
-- KEYS[2] items  hash
-- KEYS[3] seq    string counter: the feed's change sequence (every write adds 1)
-- ARGV[1] id   ARGV[2] retract channel
-- Reply: {'ok', 1} when it existed, {'ok', 0} when not | {'wrongtype', key, expected, actual}
-- Event: retract 'id NUL seq' (only when it existed).
local ids, items, seq = KEYS[1], KEYS[2], KEYS[3]
local id, channel = ARGV[1], ARGV[2]

local bad = check_types({ids, 'list', items, 'hash', seq, 'string'})
if bad then return bad end
bad = check_counters({seq})
if bad then return bad end
local removed = redis.call('LREM', ids, 0, id)
local deleted = redis.call('HDEL', items, id)
if removed == 0 and deleted == 0 then
  return {'ok', 0}
end
local n = int_str(redis.call('INCR', seq))
redis.call('PUBLISH', channel, id .. '\0' .. n)
return {'ok', 1}
