-- sorted_feed/move: move an existing id to the beginning, the end, or before / after another id.
-- KEYS[1] ids  list
-- KEYS[2] seq  string counter: the feed's change sequence (every write adds 1)
-- ARGV[1] id   ARGV[2] where: 'begin' | 'end' | 'before' | 'after'
-- ARGV[3] anchor id (for before / after; '' otherwise)   ARGV[4] position channel
-- Reply: {'ok', id, seq} | {'not_found', id_or_anchor} | {'bad_anchor', id}
--        | {'wrongtype', key, expected, actual}
-- Event: position 'id NUL seq NUL where', plus 'NUL anchor' for before / after
-- (also when the order does not change: every move is a change of the sequence).
local ids, seq = KEYS[1], KEYS[2]
local id, where, anchor, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local bad = check_types({ids, 'list', seq, 'string'})
if bad then return bad end
bad = check_counters({seq})
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

local n = int_str(redis.call('INCR', seq))
redis.call('LREM', ids, 0, id)
local pos
if where == 'begin' then
  redis.call('LPUSH', ids, id)
  pos = 'begin'
elseif where == 'end' then
  redis.call('RPUSH', ids, id)
  pos = 'end'
elseif where == 'before' then
  redis.call('LINSERT', ids, 'BEFORE', anchor, id)
  pos = 'before\0' .. anchor
else
  redis.call('LINSERT', ids, 'AFTER', anchor, id)
  pos = 'after\0' .. anchor
end
redis.call('PUBLISH', channel, id .. '\0' .. n .. '\0' .. pos)
return {'ok', id, n}
