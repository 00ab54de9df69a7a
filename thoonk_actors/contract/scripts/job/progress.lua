-- job/progress: record how far a claimed job got, and announce it (ext).
-- KEYS[1] claimed    zset
-- KEYS[2] owners     hash
-- KEYS[3] progress   hash   id -> '<fraction>\0<ms>\0<info JSON or empty>' (the last value)
-- ARGV[1] id   ARGV[2] token (required)   ARGV[3] fraction (decimal text in [0, 1])
-- ARGV[4] info (JSON text, '' = none)   ARGV[5] progress channel
-- Reply: {'ok', id, ms} | {'claim_lost', id, owner_or_nil} (not claimed by this token)
--        | {'wrongtype', key, expected, actual}
-- Event: progress channel, payload id\0fraction\0ms\0info.
local claimed, owners, progress = KEYS[1], KEYS[2], KEYS[3]
local id, token, fraction, info, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

-- Every refusal: all types first.
local function refuse(reply)
  return check_types({claimed, 'zset', owners, 'hash', progress, 'hash'}) or reply
end

-- Fencing (the prelude's fence(), token required: its reads are the type checks of both keys).
local _, bad = fence(claimed, owners, id, token, true)
if bad then return refuse(bad) end

local now = now_ms()
local value = fraction .. '\0' .. now .. '\0' .. info
local written
written, bad = write_first('hash', 'HSET', progress, id, value)
if bad then return refuse(bad) end
redis.call('PUBLISH', channel, id .. '\0' .. value)
return {'ok', id, now}
