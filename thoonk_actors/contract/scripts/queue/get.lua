-- queue/get: take up to N items from the head (right end); the id and its item
-- leave together. Ids without an item (ghosts) are dropped and skipped.
-- KEYS[1] ids    list
-- KEYS[2] items  hash
-- ARGV[1] max items (>= 1)
-- Reply: {'ok', id1, item1, ..., idn, itemn} (just {'ok'} when empty)
--        | {'wrongtype', key, expected, actual}
local ids, items = KEYS[1], KEYS[2]
local want = tonumber(ARGV[1])

local bad = check_types({ids, 'list', items, 'hash'})
if bad then return bad end
local reply, got = {'ok'}, 0
while got < want do
  local id = redis.call('RPOP', ids)
  if not id then break end
  local item = redis.call('HGET', items, id)
  if item then
    redis.call('HDEL', items, id)
    reply[#reply + 1] = id
    reply[#reply + 1] = item
    got = got + 1
  end
end
return reply
