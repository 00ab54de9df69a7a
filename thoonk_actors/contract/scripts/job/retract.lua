-- job/retract: remove a job in any state (queued, claimed, stalled). A claimed id
-- without an item (a ghost left by an original worker) can be retracted too.
-- A waiter finds the result key marked 'retracted' instead of waiting for ever.
-- A job waiting out its retry backoff (scheduled) is retracted like a queued one.
-- KEYS[1]  config     hash   (result_ttl)
-- KEYS[2]  ids        list   (every copy of the id is removed)
-- KEYS[3]  items      hash
-- KEYS[4]  published  zset
-- KEYS[5]  claimed    zset
-- KEYS[6]  cancelled  hash
-- KEYS[7]  stalled    set
-- KEYS[8]  owners     hash
-- KEYS[9]  errors     hash
-- KEYS[10] orphans    hash
-- KEYS[11] leases     hash
-- KEYS[12] scheduled  zset
-- KEYS[13] seen       hash   (the reaper's sighting of a claim without an owner)
-- KEYS[14] progress   hash
-- KEYS[15] result     hash   job.result:{<n>}:<id>
-- ARGV[1] id   ARGV[2] retract channel
-- Reply: {'ok', id} | {'not_found', id} | {'bad_config', key, field, value}
--        | {'wrongtype', key, expected, actual}
-- Event: retract channel, payload id.
local config, ids, items, published, claimed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cancelled, stalled, owners, errors = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local orphans, leases, scheduled, seen = KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local progress, result = KEYS[14], KEYS[15]
local id, channel = ARGV[1], ARGV[2]

-- Every refusal: all types first.
local function refuse(reply)
  return check_types({config, 'hash', ids, 'list', items, 'hash', published, 'zset',
    claimed, 'zset', cancelled, 'hash', stalled, 'set', owners, 'hash', errors, 'hash',
    orphans, 'hash', leases, 'hash', scheduled, 'zset', seen, 'hash', progress, 'hash',
    result, 'hash'}) or reply
end

local ttl, bad = config_int(config, 'result_ttl')
if bad then return refuse(bad) end
if ttl == 0 then return refuse({'bad_config', config, 'result_ttl', '0'}) end
ttl = ttl or 600000
-- Where the job is (reads that are also the type checks of their keys).
local has_item, score, is_stalled
has_item, bad = read('hash', 'HEXISTS', items, id)
if bad then return refuse(bad) end
score, bad = read('zset', 'ZSCORE', claimed, id)
if bad then return refuse(bad) end
is_stalled, bad = read('set', 'SISMEMBER', stalled, id)
if bad then return refuse(bad) end
if has_item == 0 and not score and is_stalled == 0 then
  return refuse({'not_found', id})
end
bad = check_types({ids, 'list', published, 'zset', cancelled, 'hash', owners, 'hash',
  errors, 'hash', orphans, 'hash', leases, 'hash', scheduled, 'zset', seen, 'hash',
  progress, 'hash',
  result, 'hash'})
if bad then return refuse(bad) end

local now = now_ms()
redis.call('HDEL', items, id)
redis.call('HDEL', cancelled, id)
redis.call('ZREM', published, id)
redis.call('SREM', stalled, id)
redis.call('ZREM', claimed, id)
redis.call('LREM', ids, 0, id)
redis.call('HDEL', owners, id)
redis.call('HDEL', errors, id)
redis.call('HDEL', orphans, id)
redis.call('HDEL', leases, id)
redis.call('ZREM', scheduled, id)
redis.call('HDEL', seen, id)
redis.call('HDEL', progress, id)
redis.call('DEL', result)
redis.call('HSET', result, 'state', 'retracted', 'at', now)
redis.call('PEXPIRE', result, ttl)
redis.call('PUBLISH', channel, id)
return {'ok', id}
