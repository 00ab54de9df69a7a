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
-- KEYS[10] result     hash   job.result:{<n>}:<id>: state, at, [result]; expires after result_ttl
-- ARGV[1] id   ARGV[2] token ('' = none: original behaviour, for JS-claimed jobs)
-- ARGV[3] has result '1' | '0'   ARGV[4] result bytes   ARGV[5] finish channel
-- Reply: {'ok', id, finish_ms} | {'not_claimed', id} (no token) | {'claim_lost', id, owner_or_nil} (token)
--        | {'bad_config', key, field, value} | {'wrongtype', key, expected, actual}
-- Event: finish channel, payload id, or id NUL result when a result is given (exactly the original).
local config, claimed, owners, cancelled, published = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local items, errors, orphans, finishes, result = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local id, token, has_result, value, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local bad = check_types({config, 'hash', claimed, 'zset', owners, 'hash', cancelled, 'hash',
  published, 'zset', items, 'hash', errors, 'hash', orphans, 'hash', finishes, 'string',
  result, 'hash'})
if bad then return bad end
bad = check_counters({finishes})
if bad then return bad end
local ttl, err = config_int(config, 'result_ttl')
if err then return err end
if ttl == 0 then return {'bad_config', config, 'result_ttl', '0'} end
ttl = ttl or 600000
bad = check_claim(claimed, owners, id, token)
if bad then return bad end

local now = now_ms()
redis.call('INCR', finishes)
redis.call('ZREM', claimed, id)
redis.call('HDEL', cancelled, id)
redis.call('ZREM', published, id)
if has_result == '1' then
  redis.call('PUBLISH', channel, id .. '\0' .. value)
else
  redis.call('PUBLISH', channel, id)
end
redis.call('HDEL', items, id)
redis.call('HDEL', owners, id)
redis.call('HDEL', errors, id)
redis.call('HDEL', orphans, id)
if has_result == '1' then
  redis.call('HSET', result, 'state', 'finished', 'at', now, 'result', value)
else
  -- A result of an earlier job with this id (published by an original client,
  -- which does not clear it) must not show through.
  redis.call('DEL', result)
  redis.call('HSET', result, 'state', 'finished', 'at', now)
end
redis.call('PEXPIRE', result, ttl)
return {'ok', id, now}
