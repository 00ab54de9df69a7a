-- job/stall: put a claimed job aside for a person to inspect (original effects; the
-- published key is removed correctly, unlike the original's misspelt one).
-- KEYS[1] claimed    zset
-- KEYS[2] owners     hash
-- KEYS[3] cancelled  hash
-- KEYS[4] stalled    set
-- KEYS[5] published  zset
-- KEYS[6] errors     hash
-- ARGV[1] id   ARGV[2] token ('' = none)   ARGV[3] reason text ('' = keep the previous)
-- ARGV[4] stall channel
-- Reply: {'ok', id} | {'not_claimed', id} (no token) | {'claim_lost', id, owner_or_nil} (token)
--        | {'wrongtype', key, expected, actual}
-- Event: stall channel, payload id.
local claimed, owners, cancelled, stalled, published, errors =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, token, text, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local bad = check_types({claimed, 'zset', owners, 'hash', cancelled, 'hash', stalled, 'set',
  published, 'zset', errors, 'hash'})
if bad then return bad end
bad = check_claim(claimed, owners, id, token)
if bad then return bad end

redis.call('ZREM', claimed, id)
redis.call('HDEL', owners, id)
redis.call('HDEL', cancelled, id)
redis.call('SADD', stalled, id)
redis.call('ZREM', published, id)
if text ~= '' then
  redis.call('HSET', errors, id, text)
end
redis.call('PUBLISH', channel, id)
return {'ok', id}
