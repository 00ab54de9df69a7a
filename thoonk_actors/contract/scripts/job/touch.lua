-- job/touch: renew a claim (lease renewal) so the timeout rule does not reap it.
-- KEYS[1] claimed  zset   (claim time set to now)
-- KEYS[2] owners   hash
-- ARGV[1] id   ARGV[2] token (required)
-- Reply: {'ok', id, claim_ms} | {'claim_lost', id, owner_or_nil} (not claimed by this token)
--        | {'wrongtype', key, expected, actual}
local claimed, owners = KEYS[1], KEYS[2]
local id, token = ARGV[1], ARGV[2]

-- Every refusal: all types first.
local function refuse(reply)
  return check_types({claimed, 'zset', owners, 'hash'}) or reply
end

-- Fencing (the prelude's fence(), token required: its reads are the type checks of both keys).
local _, bad = fence(claimed, owners, id, token, true)
if bad then return refuse(bad) end

local now = now_ms()
redis.call('ZADD', claimed, 'XX', now, id)
return {'ok', id, now}
