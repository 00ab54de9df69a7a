-- sorted_feed/items: the change sequence, then ids and items in order, in one consistent read.
-- (A reader skips the events whose sequence is not above the one returned.)
-- KEYS[1] ids    list
-- KEYS[2] items  hash
-- KEYS[3] seq    string counter: the feed's change sequence (missing = 0)
-- ARGV[1] start   ARGV[2] stop (LRANGE indexes, inclusive, negative from the end)
-- Reply: {'ok', seq, id1, item1, ..., idn, itemn} | {'wrongtype', key, expected, actual}
-- An id whose item is missing is left out.
local ids, items, seq = KEYS[1], KEYS[2], KEYS[3]

local bad = check_types({ids, 'list', items, 'hash', seq, 'string'})
if bad then return bad end
bad = check_counters({seq})
if bad then return bad end
local reply = {'ok', redis.call('GET', seq) or '0'}
local order = redis.call('LRANGE', ids, ARGV[1], ARGV[2])
local values = hmget_many(items, order)
for i, id in ipairs(order) do
  if values[i] then
    reply[#reply + 1] = id
    reply[#reply + 1] = values[i]
  end
end
return reply
