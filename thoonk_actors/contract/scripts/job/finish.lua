-- job/finish: finish a claimed job (original effects and finish event, plus fencing and a stored result).
-- KEYS[1]  config     hash   (result_ttl, ms, default 600000)
-- KEYS[2]  claimed    zset
-- KEYS[3]  owners     hash
-- KEYS[4]  cancelled  hash
-- KEYS[5]  published  zset
-- KEYS[6]  items      hash
-- KEYS[7]  errors     hash
-- KEYS[8]  orphans    hash
-- KEYS[9]  finishes   string counter
-- KEYS[10] leases     hash   (the claim's lease is removed)
-- KEYS[11] progress   hash   (the job's last progress is removed)
-- KEYS[12] seen       hash   (a claim without an owner: the reaper's sighting is removed)
-- KEYS[13] result     hash   job.result:{<n>}:<id>: state, at, [result]; expires after result_ttl
-- ARGV[1] id   ARGV[2] token ('' = none: original behaviour, for JS-claimed jobs)
-- ARGV[3] has result '1' | '0'   ARGV[4] result bytes   ARGV[5] finish channel
-- Reply: {'ok', id, finish_ms} | {'not_claimed', id} (no token) | {'claim_lost', id, owner_or_nil} (token)
--        | {'bad_config', key, field, value} | {'wrongtype', key, expected, actual}
-- Event: finish channel, payload id, or id NUL result when a result is given (exactly the original).
local config, claimed, owners, cancelled, published = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local items, errors, orphans, finishes, leases = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local progress, seen, result = KEYS[11], KEYS[12], KEYS[13]
local id, token, has_result, value, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

-- Every refusal: all types, then the counter, then `reply`.
local function refuse(reply)
  return check_types({config, 'hash', claimed, 'zset', owners, 'hash', cancelled, 'hash',
      published, 'zset', items, 'hash', errors, 'hash', orphans, 'hash', finishes, 'string',
      leases, 'hash', progress, 'hash', seen, 'hash', result, 'hash'})
    or check_counters({finishes})
    or reply
end

local ttl, bad = config_int(config, 'result_ttl')
if bad then return refuse(bad) end
if ttl == 0 then return refuse({'bad_config', config, 'result_ttl', '0'}) end
ttl = ttl or 600000
-- Fencing (the prelude's fence(): its reads are the type checks of claimed and owners).
local owner
owner, bad = fence(claimed, owners, id, token)
if bad then return refuse(bad) end

bad = check_type(published, 'zset') or check_type(items, 'hash') or check_type(leases, 'hash')
if bad then return refuse(bad) end
-- A failure count or error text of this job (the keys often exist), an orphan mark,
-- an earlier result or a reaper's sighting (the keys are usually missing): only what
-- is there is cleared.
local counted, noted, marked, old_result, sighted, reported
counted, bad = read('hash', 'HEXISTS', cancelled, id)
if bad then return refuse(bad) end
reported, bad = read('hash', 'HEXISTS', progress, id)
if bad then return refuse(bad) end
noted, bad = read('hash', 'HEXISTS', errors, id)
if bad then return refuse(bad) end
marked, old_result, sighted = 0, false, 0
if redis.call('EXISTS', orphans, result, seen) > 0 then
  marked, bad = read('hash', 'HEXISTS', orphans, id)
  if bad then return refuse(bad) end
  -- A claim without an owner (an original client's) may have a sighting of the reaper.
  sighted, bad = read('hash', 'HEXISTS', seen, id)
  if bad then return refuse(bad) end
  local kind = redis.call('TYPE', result)['ok']
  if kind ~= 'none' and kind ~= 'hash' then
    return refuse({'wrongtype', result, 'hash', kind})
  end
  old_result = kind == 'hash'
end

local now = now_ms()
-- As text: a Lua number argument costs a float formatting per call.
local at, ttl_text = int_str(now), int_str(ttl)
-- The counter first: a refused INCR changes nothing.
local total
total, bad = incr_first(finishes, 1)
if bad then return refuse(bad) end
redis.call('ZREM', claimed, id)
redis.call('ZREM', published, id)
if has_result == '1' then
  redis.call('PUBLISH', channel, id .. '\0' .. value)
else
  redis.call('PUBLISH', channel, id)
end
redis.call('HDEL', items, id)
if owner then
  redis.call('HDEL', owners, id)
  redis.call('HDEL', leases, id)
end
if sighted == 1 then
  redis.call('HDEL', seen, id)
end
if counted == 1 then
  redis.call('HDEL', cancelled, id)
end
if noted == 1 then
  redis.call('HDEL', errors, id)
end
if marked == 1 then
  redis.call('HDEL', orphans, id)
end
if reported == 1 then
  redis.call('HDEL', progress, id)
end
if has_result == '1' then
  redis.call('HSET', result, 'state', 'finished', 'at', at, 'result', value)
else
  -- A result of an earlier job with this id (published by an original client,
  -- which does not clear it) must not show through.
  if old_result then
    redis.call('DEL', result)
  end
  redis.call('HSET', result, 'state', 'finished', 'at', at)
end
redis.call('PEXPIRE', result, ttl_text)
return {'ok', id, now}
