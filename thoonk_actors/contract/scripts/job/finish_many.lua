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
-- KEYS[10] leases     hash   (the claims' leases are removed)
-- KEYS[11] progress   hash   (the jobs' last progress is removed)
-- KEYS[12 .. 11+n]    result key of each job, in ARGV order
-- ARGV[1] finish channel   ARGV[2] n
-- ARGV[3 + 4*(i-1) ..] id, token ('' = none), has result '1' | '0', result, for job i = 1..n
-- Reply: {'ok', finish_ms, id1, status1, ..., idn, statusn}; status 'ok', 'not_claimed' (no token),
--        'claim_lost' (token given, not claimed by it) or 'wrongtype:<type>' (its result key
--        holds another type, written by another program: that job alone is refused)
--        | {'bad_config', key, field, value} | {'wrongtype', key, expected, actual}
-- Event: finish channel per finished job, payload as in job/finish.
-- The ids are decided in order as one job/finish each would decide them (an id
-- finished earlier in the batch is no longer claimed); the writes common to all
-- finished jobs are one variadic call each (ZREM, HDEL), not one call per job.
local config, claimed, owners, cancelled, published = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local items, errors, orphans, finishes, leases = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local progress = KEYS[11]
local channel, n = ARGV[1], tonumber(ARGV[2])

-- Every refusal of the whole batch: all types of the shared keys, then the counter.
-- (A result key is one job's: another type there refuses that job alone.)
local function refuse(reply)
  return check_types({config, 'hash', claimed, 'zset', owners, 'hash', cancelled, 'hash',
      published, 'zset', items, 'hash', errors, 'hash', orphans, 'hash', finishes, 'string',
      leases, 'hash', progress, 'hash'})
    or check_counters({finishes}) or reply
end

local ttl, bad = config_int(config, 'result_ttl')
if bad then return refuse(bad) end
if ttl == 0 then return refuse({'bad_config', config, 'result_ttl', '0'}) end
ttl = ttl or 600000

local list = {}
for i = 1, n do
  list[i] = ARGV[3 + 4 * (i - 1)]
end
-- Fencing of every id (the prelude's claim_code) from two reads, which are also the type
-- checks of claimed and owners.
local scores, owner_of
scores, bad = read_many('zset', 'ZMSCORE', claimed, list)
if bad then return refuse(bad) end
owner_of, bad = read_many('hash', 'HMGET', owners, list)
if bad then return refuse(bad) end
-- The result keys (usually missing: one EXISTS for all, a TYPE each only when some
-- exist); a job whose result key holds another type is refused on its own.
local result_type, old_results = {}, {}
local present = 0
for first = 1, n, UNPACK_MAX do
  local last = math.min(first + UNPACK_MAX - 1, n)
  present = present + redis.call('EXISTS', unpack(KEYS, 11 + first, 11 + last))
  if present > 0 then break end
end
if present > 0 then
  for i = 1, n do
    local kind = redis.call('TYPE', KEYS[11 + i])['ok']
    if kind == 'hash' then
      old_results[KEYS[11 + i]] = true
    elseif kind ~= 'none' then
      result_type[i] = kind
    end
  end
end
local now = now_ms()
local reply = {'ok', now}
local done, finished, owned, order = {}, {}, {}, {}
for i, id in ipairs(list) do
  local token = ARGV[3 + 4 * (i - 1) + 1]
  local is_claimed = scores[i] and not done[id]
  local owner = not done[id] and owner_of[i]
  local status = claim_code(is_claimed, owner, token) or 'ok'
  if status == 'ok' and result_type[i] then
    status = 'wrongtype:' .. result_type[i]
  end
  if status == 'ok' then
    done[id] = true
    finished[#finished + 1] = id
    order[#order + 1] = i
    if owner then owned[#owned + 1] = id end
  end
  reply[2 * i + 1] = id
  reply[2 * i + 2] = status
end

if #finished == 0 then
  bad = refuse(nil)
  if bad then return bad end
  redis.call('INCRBY', finishes, 0)
  return reply
end

bad = check_types({published, 'zset', items, 'hash', leases, 'hash'})
if bad then return refuse(bad) end
-- Failure counts, error texts, orphan marks and progress: only keys that exist are written.
local here
here, bad = existing({cancelled, 'hash', errors, 'hash', orphans, 'hash', progress, 'hash'})
if bad then return refuse(bad) end

-- As text: a Lua number argument costs a float formatting per call.
local at, ttl_text = int_str(now), int_str(ttl)
-- The counter first: a refused INCRBY changes nothing.
local counted
counted, bad = incr_first(finishes, #finished)
if bad then return refuse(bad) end
call_many('ZREM', claimed, finished)
call_many('ZREM', published, finished)
call_many('HDEL', items, finished)
if #owned > 0 then
  call_many('HDEL', owners, owned)
  call_many('HDEL', leases, owned)
end
for _, key in ipairs({cancelled, errors, orphans, progress}) do
  if here[key] then
    call_many('HDEL', key, finished)
  end
end
for _, i in ipairs(order) do
  local base = 3 + 4 * (i - 1)
  local id, has_result, value = ARGV[base], ARGV[base + 2], ARGV[base + 3]
  local result = KEYS[11 + i]
  if has_result == '1' then
    redis.call('PUBLISH', channel, id .. '\0' .. value)
    redis.call('HSET', result, 'state', 'finished', 'at', at, 'result', value)
  else
    redis.call('PUBLISH', channel, id)
    -- A result of an earlier job with this id (published by an original client,
    -- which does not clear it) must not show through.
    if old_results[result] then
      redis.call('DEL', result)
    end
    redis.call('HSET', result, 'state', 'finished', 'at', at)
  end
  redis.call('PEXPIRE', result, ttl_text)
end
return reply
