-- feed/publish: publish a new item or edit an existing one (the id always comes from the caller).
-- With config max_length set, a NEW id first evicts the oldest items so that at most
-- max_length remain after it; an edit evicts nothing, and the id being published is
-- never evicted. An edit re-scores the item (it becomes the newest), as the original.
-- Scores are server ms, kept strictly increasing (max(now, newest + 1)) so that items
-- published within one millisecond keep their publish order.
-- KEYS[1] config     hash   (max_length)
-- KEYS[2] ids        zset   id -> ms (the feed order)
-- KEYS[3] items      hash   id -> item
-- KEYS[4] publishes  string counter (publishes and edits)
-- KEYS[5] registry   set    optional; left out in cluster mode
-- ARGV[1] id   ARGV[2] item   ARGV[3] publish channel   ARGV[4] edit channel
-- ARGV[5] retract channel   ARGV[6] object name (registry member)
-- Reply: {'ok', 'publish' | 'edit', score_ms, evicted_id1, ...}
--        | {'bad_config', key, field, value} | {'wrongtype', key, expected, actual}
-- Events: retract 'id' per evicted id, THEN publish or edit 'id NUL item'.
local config, ids, items, publishes, registry = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, item = ARGV[1], ARGV[2]
local publish_channel, edit_channel, retract_channel, name = ARGV[3], ARGV[4], ARGV[5], ARGV[6]

-- Every refusal: all types, then the counter, then `reply` (what checking
-- everything first would answer). The reads below double as the type checks of
-- their keys, and the counter's INCRBY is the first write (see the prelude).
local function refuse(reply)
  return check_types({config, 'hash', ids, 'zset', items, 'hash', publishes, 'string'})
    or check_counters({publishes})
    or (registry and check_types({registry, 'set'}))
    or reply
end

local max_length, bad = config_int(config, 'max_length')
if bad then return refuse(bad) end
if max_length == 0 then return refuse({'bad_config', config, 'max_length', '0'}) end
local old_score
old_score, bad = read('zset', 'ZSCORE', ids, id)
if bad then return refuse(bad) end
bad = check_type(items, 'hash')
if bad then return refuse(bad) end
local registered = 1
if registry then
  registered, bad = read('set', 'SISMEMBER', registry, name)
  if bad then return refuse(bad) end
end

local is_new = not old_score
local evicted = {}
if is_new and max_length then
  local excess = redis.call('ZCARD', ids) + 1 - max_length
  if excess > 0 then
    evicted = redis.call('ZRANGE', ids, 0, excess - 1)
  end
end

local score = now_ms()
local newest = redis.call('ZRANGE', ids, -1, -1, 'WITHSCORES')
if newest[2] and tonumber(newest[2]) >= score then
  score = tonumber(newest[2]) + 1
end

local _, refused = incr_first(publishes, 1)
if refused then return refuse(refused) end
local reply = {'ok', is_new and 'publish' or 'edit', score}
if #evicted > 0 then
  call_many('ZREM', ids, evicted)
  call_many('HDEL', items, evicted)
  for _, old in ipairs(evicted) do
    redis.call('PUBLISH', retract_channel, old)
    reply[#reply + 1] = old
  end
end
redis.call('ZADD', ids, score, id)
redis.call('HSET', items, id, item)
if registered == 0 then
  redis.call('SADD', registry, name)
end
if is_new then
  redis.call('PUBLISH', publish_channel, id .. '\0' .. item)
else
  redis.call('PUBLISH', edit_channel, id .. '\0' .. item)
end
return reply
