-- _prelude.lua: helpers shared by every thoonk-actors script.
-- The loader (contract/_scripts.py) puts the helpers a script uses (and those they
-- use) in front of it, so a script body may call these locals. Keep one helper per
-- block (blank line, comment, `local`); a blank line inside a function is fine.
-- It builds no key or channel names: those always arrive in KEYS / ARGV.
--
-- Reply convention: a flat array whose first element is a status string,
-- 'ok' or an error code, followed by values. Lua false becomes a nil element.

-- Server clock in integer milliseconds, so skewed clients cannot disagree.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Decimal text of an integer (tostring would switch to exponent notation).
local function int_str(n)
  return string.format('%d', n)
end

-- Check key types before any write, so a refused script changes nothing.
-- spec = {key, 'hash', key, 'list', ...}; a missing key ('none') is fine.
-- Returns nil, or the reply {'wrongtype', key, expected, actual}.
local function check_types(spec)
  for i = 1, #spec, 2 do
    local actual = redis.call('TYPE', spec[i])['ok']
    if actual ~= 'none' and actual ~= spec[i + 1] then
      return {'wrongtype', spec[i], spec[i + 1], actual}
    end
  end
  return nil
end

-- How the job scripts stay cheap without weakening their checks: on the way to
-- success every key is checked by the cheapest call that covers it -- a read the
-- script needs anyway (read() below), the first write itself (incr_first), one
-- EXISTS for keys that are usually missing (existing), a TYPE only for the rest --
-- always before the first write. Any refusal goes through the script's refuse(),
-- which runs the complete check_types of the script's keys first, so a refused
-- call replies exactly what a check-everything-first script would, and changes
-- nothing.

-- Most values one unpack() hands a variadic call: Lua's C stack holds about 8000,
-- and a multiple of 2 never splits a (field, value) or (score, member) pair.
local UNPACK_MAX = 2000

-- The reply for `key` holding another type than `expected` (one TYPE, on that path only).
local function wrongtype(key, expected)
  return {'wrongtype', key, expected, redis.call('TYPE', key)['ok']}
end

-- check_types() of one key, without building a spec table: nil or the reply.
local function check_type(key, expected)
  local actual = redis.call('TYPE', key)['ok']
  if actual ~= 'none' and actual ~= expected then
    return {'wrongtype', key, expected, actual}
  end
  return nil
end

-- A read that the script needs anyway, doubling as the type check of its key:
-- redis.pcall(cmd, key, ...), with a WRONGTYPE error turned into the wrongtype
-- reply. Returns (value, nil) or (nil, reply). Saves the TYPE call of every key
-- that is read before it is written. Any other error is raised (reads have no
-- effects, so running it again with redis.call is harmless).
local function read(expected, cmd, key, ...)
  local value = redis.pcall(cmd, key, ...)
  if type(value) == 'table' and value['err'] then
    if string.sub(value['err'], 1, 9) == 'WRONGTYPE' then
      return nil, wrongtype(key, expected)
    end
    return redis.call(cmd, key, ...)
  end
  return value, nil
end

-- read() of a variadic read (HMGET, ZMSCORE, SMISMEMBER) for any number of
-- fields, in as few calls as unpack() allows; the values in field order.
-- No fields: no call at all, so no type check either.
local function read_many(expected, cmd, key, fields)
  local n = #fields
  if n <= UNPACK_MAX then
    if n == 0 then return {}, nil end
    return read(expected, cmd, key, unpack(fields))
  end
  local values = {}
  for first = 1, n, UNPACK_MAX do
    local part, bad = read(expected, cmd, key, unpack(fields, first, math.min(first + UNPACK_MAX - 1, n)))
    if bad then return nil, bad end
    for i = 1, #part do
      values[first + i - 1] = part[i]
    end
  end
  return values, nil
end

-- read_many() that sends a one-field read as its scalar command (HGET, ZSCORE,
-- SISMEMBER: cheaper than HMGET, ZMSCORE, SMISMEMBER of one), same values.
local function read_each(expected, many, one, key, fields)
  if #fields == 1 then
    local value, bad = read(expected, one, key, fields[1])
    if bad then return nil, bad end
    return {value}, nil
  end
  return read_many(expected, many, key, fields)
end

-- A variadic write (HDEL, ZREM, ZADD, HSET, LPUSH, ...) of any number of
-- arguments after the key, in as few calls as unpack() allows. Pushes keep their
-- order across calls (LPUSH k a b; LPUSH k c = LPUSH k a b c).
local function call_many(cmd, key, args)
  local n = #args
  for first = 1, n, UNPACK_MAX do
    redis.call(cmd, key, unpack(args, first, math.min(first + UNPACK_MAX - 1, n)))
  end
end

-- A script's FIRST write, doubling as its key's type check: a write refused for
-- WRONGTYPE changes nothing, so nothing has changed when this returns a reply.
-- Returns (value, nil) or (nil, wrongtype reply); any other error is raised.
local function write_first(expected, cmd, key, ...)
  local value = redis.pcall(cmd, key, ...)
  if type(value) == 'table' and value['err'] then
    if string.sub(value['err'], 1, 9) == 'WRONGTYPE' then
      return nil, wrongtype(key, expected)
    end
    return redis.call(cmd, key, ...)
  end
  return value, nil
end

-- INCRBY as the script's FIRST write, doubling as the counter's check: a refused
-- INCRBY changes nothing, so nothing has changed when this returns a reply.
-- Returns (new value, nil) or (nil, wrongtype reply).
local function incr_first(key, by)
  local value = redis.pcall('INCRBY', key, by)
  if type(value) == 'table' and value['err'] then
    if string.sub(value['err'], 1, 9) == 'WRONGTYPE' then
      return nil, wrongtype(key, 'string')
    end
    if string.find(value['err'], 'integer', 1, true) or string.find(value['err'], 'overflow', 1, true) then
      return nil, {'wrongtype', key, 'integer', 'string'}  -- not an integer, or it would overflow
    end
    return redis.call('INCRBY', key, by)
  end
  return value, nil
end

-- Keys that are only written (HDEL / ZREM / DEL of the job's entries) and are
-- usually missing: one EXISTS for all of them, and a TYPE each only when some
-- exist. spec = {key, 'hash', ...}. Returns (set of the keys that exist, nil) or
-- (nil, wrongtype reply); a key that does not exist needs no write at all.
local function existing(spec)
  local keys = {}
  for i = 1, #spec, 2 do
    keys[#keys + 1] = spec[i]
  end
  local here, count = {}, 0
  for first = 1, #keys, UNPACK_MAX do
    count = count + redis.call('EXISTS', unpack(keys, first, math.min(first + UNPACK_MAX - 1, #keys)))
    if count > 0 then break end
  end
  if count == 0 then
    return here, nil
  end
  for i = 1, #spec, 2 do
    local actual = redis.call('TYPE', spec[i])['ok']
    if actual ~= 'none' then
      if actual ~= spec[i + 1] then
        return nil, {'wrongtype', spec[i], spec[i + 1], actual}
      end
      here[spec[i]] = true
    end
  end
  return here, nil
end

-- Read an integer config field; nil when unset. Returns (value, err_reply).
-- A stored value that is not a non-negative integer gives {'bad_config', ...};
-- a config key of another type gives the wrongtype reply.
local function config_int(config_key, field)
  local raw, bad = read('hash', 'HGET', config_key, field)
  if bad then
    return nil, bad
  end
  if not raw then
    return nil, nil
  end
  local n = tonumber(raw)
  -- At most 2^40 (contract/_config.py MAX_MS): beyond, now + n is not exact in Lua.
  if n == nil or n < 0 or n > 1099511627776 or n ~= math.floor(n) then
    return nil, {'bad_config', config_key, field, raw}
  end
  return n, nil
end

-- The token part of an owner value 'worker_id:token' (worker ids may hold ':').
local function owner_token(owner)
  return string.match(owner, ':([^:]*)$')
end

-- The worker part of an owner value 'worker_id:token'.
local function owner_worker(owner)
  return string.match(owner, '^(.*):[^:]*$') or owner
end

-- Fencing, the rule of every script that acts on a claim: is the claim of `id`
-- (its score in job.claimed, `score`; its owner 'worker_id:token', `owner`) the
-- caller's? nil when it is, else the refusal code. Without a token ('') any claim
-- will do (original clients, a person): 'not_claimed' when there is none -- unless
-- `required` (the token is the caller's proof: touch, progress). With a token the
-- claim must be that token's: a caller that held a claim and lost it (reaped, maybe
-- claimed again) gets 'claim_lost'. Batch scripts read scores and owners for many
-- ids at once and call this per id.
local function claim_code(score, owner, token, required)
  if token == '' and not required then
    if not score then return 'not_claimed' end
    return nil
  end
  if not score or not owner or owner_token(owner) ~= token then
    return 'claim_lost'
  end
  return nil
end

-- claim_code() of one id, from two reads that are also the type checks of
-- `claimed` (zset) and `owners` (hash). Returns (owner or false, nil) when the
-- caller may act, else (nil, reply): the wrongtype reply, {'not_claimed', id} or
-- {'claim_lost', id, current_owner_or_false}. Passes a refusal to the script's
-- refuse() (which checks every key's type first).
local function fence(claimed, owners, id, token, required)
  local score, bad = read('zset', 'ZSCORE', claimed, id)
  if bad then return nil, bad end
  local owner
  owner, bad = read('hash', 'HGET', owners, id)
  if bad then return nil, bad end
  local code = claim_code(score, owner, token, required)
  if code == 'not_claimed' then return nil, {'not_claimed', id} end
  if code then return nil, {'claim_lost', id, score and owner} end
  return owner, nil
end

-- HMGET for any number of fields; Lua's unpack() is limited to a few thousand values.
-- A missing field gives false (Redis nil in a reply).
local function hmget_many(key, fields)
  local values = {}
  for first = 1, #fields, 1000 do
    local part = redis.call('HMGET', key, unpack(fields, first, math.min(first + 999, #fields)))
    for i = 1, #part do
      values[first + i - 1] = part[i]
    end
  end
  return values
end

-- nil when every counter key holds an integer (or is missing), else a 'wrongtype'
-- reply; lets a script with several counters check them all before writing.
local function check_counters(keys)
  for _, key in ipairs(keys) do
    local raw = redis.call('GET', key)
    if raw and not string.match(raw, '^-?%d+$') then
      return {'wrongtype', key, 'integer', 'string'}
    end
  end
  return nil
end

-- A generated sorted-feed id: the next counter value not already used by an item
-- (a caller may have chosen numeric ids of its own).
local function next_free_id(idincr, items)
  while true do
    local id = int_str(redis.call('INCR', idincr))
    if redis.call('HEXISTS', items, id) == 0 then
      return id
    end
  end
end

-- check_types for a spec plus an optional registry set.
local function check_types_reg(spec, registry)
  if registry then
    spec[#spec + 1] = registry
    spec[#spec + 1] = 'set'
  end
  return check_types(spec)
end

-- Defaults of config fields the scripts read (unset field = this value); keep equal
-- to contract/_config.py (a test checks).
local DEFAULTS = {max_cancels = 10, result_ttl = 600000, retry_delay = 1000,
  retry_delay_max = 300000, retry_factor = 2}

-- How long a job whose count just became `count` waits before it is queued again:
-- retry_delay * retry_factor ^ (count - 1), at most retry_delay_max, plus a jitter
-- of 0 to 25 % chosen by the caller (`jitter` per mille, 0..999), so failed jobs of
-- many workers do not come back all at once. Returns (ms, nil) or (nil, bad reply).
-- 0 ms: the job goes straight back to job.ids (retry_delay 0 = the original's way).
local function backoff_ms(config, count, jitter)
  local base, bad = config_int(config, 'retry_delay')
  if bad then return nil, bad end
  local cap
  cap, bad = config_int(config, 'retry_delay_max')
  if bad then return nil, bad end
  local factor
  factor, bad = config_int(config, 'retry_factor')
  if bad then return nil, bad end
  base = base or DEFAULTS.retry_delay
  cap = cap or DEFAULTS.retry_delay_max
  factor = factor or DEFAULTS.retry_factor
  if base <= 0 then return 0, nil end
  local delay = base
  for _ = 2, count do
    delay = delay * factor
    if delay >= cap then break end
  end
  if delay > cap then delay = cap end
  return math.floor(delay + delay * jitter / 4000), nil
end

-- Move the jobs of the `scheduled` zset that are due (score <= now) to the back of
-- `ids` (LPUSH, where a cancel puts a job), at most `limit` of them; ids whose item
-- is gone are only removed. Any number of processes may run it at once: each run is
-- inside one script, so a due id is moved exactly once. The caller has checked the
-- types of ids, items and scheduled. Returns the number of ids moved.
local function promote_due(scheduled, ids, items, now, limit)
  local due = redis.call('ZRANGEBYSCORE', scheduled, '-inf', int_str(now), 'LIMIT', 0, limit)
  if #due == 0 then return 0 end
  local there = redis.call('HMGET', items, unpack(due))
  local moved = {}
  for i, id in ipairs(due) do
    if there[i] then moved[#moved + 1] = id end
  end
  call_many('ZREM', scheduled, due)
  if #moved > 0 then
    call_many('LPUSH', ids, moved)
  end
  return #moved
end

-- The due time (ms) of the earliest scheduled job, or -1 when none is scheduled.
local function next_due(scheduled)
  local first = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')
  if #first == 0 then return -1 end
  return tonumber(first[2])
end
