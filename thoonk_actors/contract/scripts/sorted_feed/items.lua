-- sorted_feed/items: ids and items in the feed's order, in one consistent read.
-- KEYS[1] ids    list
-- KEYS[2] items  hash
-- ARGV[1] start   ARGV[2] stop (LRANGE indexes, inclusive, negative from the end)
-- Reply: {'ok', id1, item1, ..., idn, itemn} | {'wrongtype', key, expected, actual}
-- An id whose item is missing is left out.
local ids, items = KEYS[1], KEYS[2]

local bad = check_types({ids, 'list', items, 'hash'})
if bad then return bad end
local reply = {'ok'}
local order = redis.call('LRANGE', ids, ARGV[1], ARGV[2])
local values = hmget_many(items, order)
for i, id in ipairs(order) do
  if values[i] then
    reply[#reply + 1] = id
    reply[#reply + 1] = values[i]
  end
end
return reply
