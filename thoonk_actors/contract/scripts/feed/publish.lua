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

local spec = {config, 'hash', ids, 'zset', items, 'hash', publishes, 'string'}
if registry then
  spec[#spec + 1] = registry
  spec[#spec + 1] = 'set'
end
local bad = check_types(spec)
if bad then return bad end
bad = check_counters({publishes})
if bad then return bad end
local max_length, err = config_int(config, 'max_length')
if err then return err end
if max_length == 0 then return {'bad_config', config, 'max_length', '0'} end

local is_new = not redis.call('ZSCORE', ids, id)
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

redis.call('INCR', publishes)
local reply = {'ok', is_new and 'publish' or 'edit', score}
for _, old in ipairs(evicted) do
  redis.call('ZREM', ids, old)
  redis.call('HDEL', items, old)
  redis.call('PUBLISH', retract_channel, old)
  reply[#reply + 1] = old
end
redis.call('ZADD', ids, score, id)
redis.call('HSET', items, id, item)
if registry then
  redis.call('SADD', registry, name)
end
if is_new then
  redis.call('PUBLISH', publish_channel, id .. '\0' .. item)
else
  redis.call('PUBLISH', edit_channel, id .. '\0' .. item)
end
return reply
