-- job/release: give a claim back WITHOUT counting a failure (graceful shutdown, a
-- job the worker never started). The job goes to the head of the queue (RPUSH),
-- so it keeps its turn.
-- KEYS[1] ids      list
-- KEYS[2] claimed  zset
-- KEYS[3] owners   hash
-- ARGV[1] id   ARGV[2] token ('' = none)   ARGV[3] release channel
-- Reply: {'ok', id} | {'not_claimed', id} (no token) | {'claim_lost', id, owner_or_nil} (token)
--        | {'wrongtype', key, expected, actual}
-- Event: release channel (ext), payload id.
local ids, claimed, owners = KEYS[1], KEYS[2], KEYS[3]
local id, token, channel = ARGV[1], ARGV[2], ARGV[3]

-- Every refusal: all types first.
local function refuse(reply)
  return check_types({ids, 'list', claimed, 'zset', owners, 'hash'}) or reply
end

-- Fencing (the prelude's fence(): its reads are the type checks of claimed and owners).
local owner, bad
owner, bad = fence(claimed, owners, id, token)
if bad then return refuse(bad) end
bad = check_type(ids, 'list')
if bad then return refuse(bad) end

redis.call('ZREM', claimed, id)
if owner then
  redis.call('HDEL', owners, id)
end
redis.call('RPUSH', ids, id)
redis.call('PUBLISH', channel, id)
return {'ok', id}
