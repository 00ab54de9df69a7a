-- job/retry: send a stalled job back to the queue (original effects, plus an event).
-- KEYS[1] ids        list   (LPUSH: back of the queue)
-- KEYS[2] stalled    set
-- KEYS[3] published  zset   (re-scored to the retry time, as the original)
-- ARGV[1] id   ARGV[2] retry channel
-- Reply: {'ok', id, retry_ms} | {'not_stalled', id} | {'wrongtype', key, expected, actual}
-- Event: retry channel, payload id.
local ids, stalled, published = KEYS[1], KEYS[2], KEYS[3]
local id, channel = ARGV[1], ARGV[2]

-- Every refusal: all types first.
local function refuse(reply)
  return check_types({ids, 'list', stalled, 'set', published, 'zset'}) or reply
end

local is_stalled, bad = read('set', 'SISMEMBER', stalled, id)
if bad then return refuse(bad) end
if is_stalled == 0 then
  return refuse({'not_stalled', id})
end
bad = check_type(ids, 'list') or check_type(published, 'zset')
if bad then return refuse(bad) end

local now = now_ms()
redis.call('SREM', stalled, id)
redis.call('LPUSH', ids, id)
redis.call('ZADD', published, now, id)
redis.call('PUBLISH', channel, id)
return {'ok', id, now}
