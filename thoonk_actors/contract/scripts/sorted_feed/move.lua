-- sorted_feed/move: move an existing id to the beginning, the end, or before / after another id.
-- KEYS[1] ids  list
-- ARGV[1] id   ARGV[2] where: 'begin' | 'end' | 'before' | 'after'
-- ARGV[3] anchor id (for before / after; '' otherwise)   ARGV[4] position channel
-- Reply: {'ok', id} | {'not_found', id_or_anchor} | {'bad_anchor', id}
--        | {'wrongtype', key, expected, actual}
-- Event: position 'id NUL pos', pos 'begin:' | ':end' | ':X' (before X) | 'X:' (after X).
local ids = KEYS[1]
local id, where, anchor, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local bad = check_types({ids, 'list'})
if bad then return bad end
if not redis.call('LPOS', ids, id) then
  return {'not_found', id}
end
if where == 'before' or where == 'after' then
  if anchor == id then
    return {'bad_anchor', id}
  end
  if not redis.call('LPOS', ids, anchor) then
    return {'not_found', anchor}
  end
end

redis.call('LREM', ids, 0, id)
local pos
if where == 'begin' then
  redis.call('LPUSH', ids, id)
  pos = 'begin:'
elseif where == 'end' then
  redis.call('RPUSH', ids, id)
  pos = ':end'
elseif where == 'before' then
  redis.call('LINSERT', ids, 'BEFORE', anchor, id)
  pos = ':' .. anchor
else
  redis.call('LINSERT', ids, 'AFTER', anchor, id)
  pos = anchor .. ':'
end
redis.call('PUBLISH', channel, id .. '\0' .. pos)
return {'ok', id}
