-- job/finish_many: finish a batch of a worker's jobs; each id gets its own outcome.
-- An id that is refused (not claimed, claim lost) changes nothing; the others finish.
-- KEYS[1]  config     hash   (result_ttl)
-- KEYS[2]  claimed    zset
-- KEYS[3]  owners     hash
-- KEYS[4]  cancelled  hash
-- KEYS[5]  published  zset
-- KEYS[6]  items      hash
-- KEYS[7]  errors     hash
-- KEYS[8]  orphans    hash
-- KEYS[9]  finishes   string counter
-- KEYS[10 .. 9+n]     result key of each job, in ARGV order
-- ARGV[1] finish channel   ARGV[2] n
-- ARGV[3 + 4*(i-1) ..] id, token ('' = none), has result '1' | '0', result, for job i = 1..n
-- Reply: {'ok', finish_ms, id1, status1, ..., idn, statusn}; status 'ok', 'not_claimed' (no token)
--        or 'claim_lost' (token given, not claimed by it)
--        | {'bad_config', key, field, value} | {'wrongtype', key, expected, actual}
-- Event: finish channel per finished job, payload as in job/finish.
local config, claimed, owners, cancelled, published = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local items, errors, orphans, finishes = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local channel, n = ARGV[1], tonumber(ARGV[2])

local spec = {config, 'hash', claimed, 'zset', owners, 'hash', cancelled, 'hash',
  published, 'zset', items, 'hash', errors, 'hash', orphans, 'hash', finishes, 'string'}
for i = 1, n do
  spec[#spec + 1] = KEYS[9 + i]
  spec[#spec + 1] = 'hash'
end
local bad = check_types(spec)
if bad then return bad end
bad = check_counters({finishes})
if bad then return bad end
local ttl, err = config_int(config, 'result_ttl')
if err then return err end
if ttl == 0 then return {'bad_config', config, 'result_ttl', '0'} end
ttl = ttl or 600000
-- The counter first: if it holds garbage INCRBY fails before anything else is written.
redis.call('INCRBY', finishes, 0)
local finished = 0

local now = now_ms()
local reply = {'ok', now}
for i = 1, n do
  local base = 3 + 4 * (i - 1)
  local id, token, has_result, value = ARGV[base], ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
  local result = KEYS[9 + i]
  local refused = check_claim(claimed, owners, id, token)
  local status = refused and refused[1] or 'ok'
  if status == 'ok' then
    finished = finished + 1
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
  end
  reply[#reply + 1] = id
  reply[#reply + 1] = status
end
if finished > 0 then
  redis.call('INCRBY', finishes, finished)
end
return reply
