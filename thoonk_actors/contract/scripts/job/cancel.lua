-- job/cancel: give a claimed job back after a failure; its cancel count grows.
-- Once the count reaches max_cancels (ARGV, else config, default 10; 0 = no limit) the
-- job is stalled instead, so a poison job stops going round. Otherwise it waits out
-- its retry backoff in job.scheduled (config retry_delay, retry_factor,
-- retry_delay_max; see backoff_ms) and a claim, wait or reap sweep moves it back to
-- job.ids when it is due; with no backoff it goes straight back to job.ids.
-- KEYS[1]  config     hash   (max_cancels, retry_delay, retry_delay_max, retry_factor)
-- KEYS[2]  ids        list   (LPUSH: back of the queue, as the original)
-- KEYS[3]  claimed    zset
-- KEYS[4]  owners     hash
-- KEYS[5]  cancelled  hash   id -> count
-- KEYS[6]  stalled    set
-- KEYS[7]  published  zset
-- KEYS[8]  errors     hash   id -> last error text
-- KEYS[9]  leases     hash   (the claim's lease is removed)
-- KEYS[10] scheduled  zset   id -> ms when it is due again
-- KEYS[11] seen       hash   (a claim without an owner: the reaper's sighting is removed)
-- KEYS[12] progress   hash   (the job's last progress is removed)
-- ARGV[1] id   ARGV[2] token ('' = none)   ARGV[3] error text ('' = keep the previous)
-- ARGV[4] max_cancels override ('' = use config)   ARGV[5] cancel channel   ARGV[6] stall channel
-- ARGV[7] jitter per mille (0..999)   ARGV[8] retry delay override ms ('' = the backoff)
-- Reply: {'ok', id, 'cancelled', count, due_ms (0 = queued now)} | {'ok', id, 'stalled', count, 0}
--        | {'not_claimed', id} (no token) | {'claim_lost', id, owner_or_nil} (token given)
--        | {'bad_config', key, field, value} | {'wrongtype', key, expected, actual}
-- Event: cancel channel 'id NUL count', or stall channel 'id' when stalled.
local config, ids, claimed, owners = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cancelled, stalled, published, errors = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local leases, scheduled, seen, progress = KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local id, token, text, override = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local cancel_channel, stall_channel = ARGV[5], ARGV[6]
local jitter, delay_override = tonumber(ARGV[7]) or 0, ARGV[8]

-- Every refusal: all types first.
local function refuse(reply)
  return check_types({config, 'hash', ids, 'list', claimed, 'zset', owners, 'hash',
    cancelled, 'hash', stalled, 'set', published, 'zset', errors, 'hash', leases, 'hash',
    scheduled, 'zset', seen, 'hash', progress, 'hash'}) or reply
end

local max_cancels, bad
local spec = {config, 'hash', ids, 'list', stalled, 'set', published, 'zset', errors, 'hash',
  leases, 'hash', scheduled, 'zset', seen, 'hash', progress, 'hash'}
if override ~= '' then
  max_cancels = tonumber(override)
else
  max_cancels, bad = config_int(config, 'max_cancels')
  if bad then return refuse(bad) end
  if max_cancels == nil then max_cancels = DEFAULTS.max_cancels end
end
-- Fencing (the prelude's fence(): its reads are the type checks of claimed and owners).
local owner
owner, bad = fence(claimed, owners, id, token)
if bad then return refuse(bad) end
local raw
raw, bad = read('hash', 'HGET', cancelled, id)
if bad then return refuse(bad) end
bad = check_types(spec)
if bad then return refuse(bad) end

-- Computed rather than HINCRBY, so a foreign non-integer count cannot fail halfway.
local count = (tonumber(raw) or 0) + 1
local stall = max_cancels > 0 and count >= max_cancels
local delay = 0
if not stall then
  if delay_override ~= '' then
    delay = tonumber(delay_override)
  else
    delay, bad = backoff_ms(config, count, jitter)
    if bad then return refuse(bad) end
  end
end

redis.call('ZREM', claimed, id)
if owner then
  redis.call('HDEL', owners, id)
else
  redis.call('HDEL', seen, id)
end
redis.call('HDEL', leases, id)
redis.call('HDEL', progress, id)
if text ~= '' then
  redis.call('HSET', errors, id, text)
end
if stall then
  if raw then
    redis.call('HDEL', cancelled, id)
  end
  redis.call('SADD', stalled, id)
  redis.call('ZREM', published, id)
  redis.call('PUBLISH', stall_channel, id)
  return {'ok', id, 'stalled', count, 0}
end
redis.call('HSET', cancelled, id, count)
local due = 0
if delay > 0 then
  due = now_ms() + delay
  redis.call('ZADD', scheduled, int_str(due), id)
else
  redis.call('LPUSH', ids, id)
end
redis.call('PUBLISH', cancel_channel, id .. '\0' .. int_str(count))
return {'ok', id, 'cancelled', count, due}
