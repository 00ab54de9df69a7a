-- job/stall: put a claimed job aside for a person to inspect (original effects; the
-- published key is removed correctly, unlike the original's misspelt one).
-- KEYS[1] claimed    zset
-- KEYS[2] owners     hash
-- KEYS[3] cancelled  hash
-- KEYS[4] stalled    set
-- KEYS[5] published  zset
-- KEYS[6] errors     hash
-- KEYS[7] leases     hash   (the claim's lease is removed)
-- KEYS[8] seen       hash   (a claim without an owner: the reaper's sighting is removed)
-- KEYS[9] progress   hash   (the job's last progress is removed)
-- ARGV[1] id   ARGV[2] token ('' = none)   ARGV[3] reason text ('' = keep the previous)
-- ARGV[4] stall channel
-- Reply: {'ok', id} | {'not_claimed', id} (no token) | {'claim_lost', id, owner_or_nil} (token)
--        | {'wrongtype', key, expected, actual}
-- Event: stall channel, payload id.
local claimed, owners, cancelled, stalled, published, errors, leases, seen =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local progress = KEYS[9]
local id, token, text, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

-- Every refusal: all types first.
local function refuse(reply)
  return check_types({claimed, 'zset', owners, 'hash', cancelled, 'hash', stalled, 'set',
    published, 'zset', errors, 'hash', leases, 'hash', seen, 'hash', progress, 'hash'})
    or reply
end

-- Fencing (the prelude's fence(): its reads are the type checks of claimed and owners).
local owner, bad
owner, bad = fence(claimed, owners, id, token)
if bad then return refuse(bad) end
local counted
counted, bad = read('hash', 'HEXISTS', cancelled, id)
if bad then return refuse(bad) end
bad = check_type(stalled, 'set') or check_type(published, 'zset') or check_type(errors, 'hash')
  or check_type(leases, 'hash') or check_type(seen, 'hash') or check_type(progress, 'hash')
if bad then return refuse(bad) end

redis.call('ZREM', claimed, id)
redis.call('HDEL', progress, id)
if owner then
  redis.call('HDEL', owners, id)
  redis.call('HDEL', leases, id)
else
  redis.call('HDEL', seen, id)
end
if counted == 1 then
  redis.call('HDEL', cancelled, id)
end
redis.call('SADD', stalled, id)
redis.call('ZREM', published, id)
if text ~= '' then
  redis.call('HSET', errors, id, text)
end
redis.call('PUBLISH', channel, id)
return {'ok', id}
