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
--
-- Cheap on the way to success (issue 12): the reads it needs double as type checks
-- (config: max_length; ids: the newest score; items: HEXISTS; the registry:
-- SISMEMBER), so every key but the counter is known good before anything is
-- written; INCRBY is the first write and the counter's own check (not an integer,
-- or an overflow). A refused call therefore changes nothing, not even a key's
-- encoding (an undo would not restore that: an HDEL does not turn a hash back
-- into a listpack, and DUMP shows the difference). Whether the id is new comes
-- from ZADD's own reply. refuse() replies what checking every key first would.
-- The happy path is written out flat (no helper calls, no closure but refuse()):
-- on Redis 6.2 the prelude's helpers cost about 3 us of the ~14 per call.
local config, ids, items, publishes, registry = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, item = ARGV[1], ARGV[2]

-- Every refusal ends here, with nothing changed: the reply of a script that checks
-- every key first (types, then the counter, then the registry), else `reply`;
-- `err` (an error that is no refusal, e.g. out of memory) is raised as it was.
local function refuse(reply, err)
  local bad = check_types({config, 'hash', ids, 'zset', items, 'hash', publishes, 'string'})
    or check_counters({publishes})
    or (registry and check_types({registry, 'set'}))
  if bad then return bad end
  if err then return {err = err} end
  return reply
end

local function failed(value)
  return type(value) == 'table' and value['err']
end

local raw = redis.pcall('HGET', config, 'max_length')
if failed(raw) then return refuse(nil, raw['err']) end
local max_length = nil
if raw then
  max_length = tonumber(raw)
  -- As config_int (at most 2^40, a whole number), and not 0 (0 bricked every
  -- original publish).
  if max_length == nil or max_length < 0 or max_length > 1099511627776
      or max_length ~= math.floor(max_length) then
    return refuse({'bad_config', config, 'max_length', raw})
  end
  if max_length == 0 then return refuse({'bad_config', config, 'max_length', '0'}) end
end
local newest = redis.pcall('ZRANGE', ids, -1, -1, 'WITHSCORES')
if failed(newest) then return refuse(nil, newest['err']) end

local known = redis.pcall('HEXISTS', items, id)
if failed(known) then return refuse(nil, known['err']) end
local registered = 1
if registry then
  registered = redis.pcall('SISMEMBER', registry, ARGV[6])
  if failed(registered) then return refuse(nil, registered['err']) end
end
local count = redis.pcall('INCRBY', publishes, 1)
if failed(count) then
  local err = count['err']
  if string.find(err, 'integer', 1, true) or string.find(err, 'overflow', 1, true) then
    -- Not an integer, or it would overflow (check_counters sees only the former).
    return refuse(wrongtype(publishes, 'integer'))
  end
  return refuse(nil, err)
end
redis.call('HSET', items, id, item)
if registered == 0 then redis.call('SADD', registry, ARGV[6]) end

local t = redis.call('TIME')
local score = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if newest[2] and tonumber(newest[2]) >= score then
  score = tonumber(newest[2]) + 1
end
local is_new = redis.call('ZADD', ids, score, id) == 1
local reply = {'ok', is_new and 'publish' or 'edit', score}
if is_new and max_length then
  -- The new id has the highest score: never among the `excess` oldest.
  local excess = redis.call('ZCARD', ids) - max_length
  if excess > 0 then
    local evicted = redis.call('ZRANGE', ids, 0, excess - 1)
    call_many('ZREM', ids, evicted)
    call_many('HDEL', items, evicted)
    local retract_channel = ARGV[5]
    for _, old in ipairs(evicted) do
      redis.call('PUBLISH', retract_channel, old)
      reply[#reply + 1] = old
    end
  end
end
if is_new then
  redis.call('PUBLISH', ARGV[3], id .. '\0' .. item)
else
  redis.call('PUBLISH', ARGV[4], id .. '\0' .. item)
end
return reply
