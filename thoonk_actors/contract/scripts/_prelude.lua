-- _prelude.lua: helpers shared by every thoonk-actors script.
-- The loader (contract/_scripts.py) prepends this file to each script, so a
-- script body may call these locals. It builds no key or channel names: those
-- always arrive in KEYS / ARGV.
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

-- Read an integer config field; nil when unset. Returns (value, err_reply).
-- A stored value that is not a non-negative integer gives {'bad_config', ...}.
local function config_int(config_key, field)
  local raw = redis.call('HGET', config_key, field)
  if not raw then
    return nil, nil
  end
  local n = tonumber(raw)
  if n == nil or n < 0 or n ~= math.floor(n) then
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

-- Fencing: nil when the caller may act on the claim of `id`, otherwise the reply.
-- Without a token ('') any claim will do (original clients, a person):
-- {'not_claimed', id} when there is none. With a token the claim must be that
-- token's; a caller that held a claim and lost it (reaped, maybe claimed again)
-- gets {'claim_lost', id, current_owner_or_false}.
local function check_claim(claimed_key, owners_key, id, token)
  local is_claimed = redis.call('ZSCORE', claimed_key, id)
  if token == '' then
    if not is_claimed then
      return {'not_claimed', id}
    end
    return nil
  end
  local owner = redis.call('HGET', owners_key, id)
  if not is_claimed or not owner or owner_token(owner) ~= token then
    return {'claim_lost', id, is_claimed and owner}
  end
  return nil
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
