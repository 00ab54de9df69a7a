-- job/held: "are these claims still mine?" -- a read-only look at jobs a worker holds,
-- so it can drop buffered jobs and cancel running handlers whose claim went away
-- (retracted, cancelled or stalled by someone else, reaped, finished by a person).
-- KEYS[1] claimed  zset
-- KEYS[2] owners   hash
-- KEYS[3] items    hash
-- KEYS[4] stalled  set
-- KEYS[5] errors   hash
-- KEYS[5+i] result of the i-th job (hash job.result:{<n>}:<id>; read only when
--        the job is gone, to tell finished from retracted)
-- ARGV[1] n   then n pairs: ARGV[2i] id, ARGV[2i+1] token
-- Reply: {'ok', state1, error1, ..., staten, errorn}; state 'mine' (claimed with that
--        token) | 'claimed' (by someone else) | 'stalled' | 'queued' (back in the
--        queue) | 'finished' | 'retracted' | 'gone' (no item, no stored outcome);
--        error: the job's last error text or nil | {'wrongtype', key, expected, actual}
-- Events: none (changes nothing).
local claimed, owners, items, stalled, errors = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local n = tonumber(ARGV[1])

local spec = {claimed, 'zset', owners, 'hash', items, 'hash', stalled, 'set', errors, 'hash'}
for i = 1, n do
  spec[#spec + 1] = KEYS[5 + i]
  spec[#spec + 1] = 'hash'
end
local bad = check_types(spec)
if bad then return bad end

local want = {}
for i = 1, n do
  want[i] = ARGV[2 * i]
end
local scores = read_many('zset', 'ZMSCORE', claimed, want)
local held = read_many('hash', 'HMGET', owners, want)
local found = read_many('hash', 'HMGET', items, want)
local aside = read_many('set', 'SMISMEMBER', stalled, want)
local texts = read_many('hash', 'HMGET', errors, want)

local reply = {'ok'}
for i = 1, n do
  local state
  local owner = held[i]
  if scores[i] then
    if owner and owner_token(owner) == ARGV[2 * i + 1] then
      state = 'mine'
    else
      state = 'claimed'
    end
  elseif aside[i] == 1 then
    state = 'stalled'
  elseif found[i] then
    state = 'queued'
  else
    state = 'gone'
    local stored = redis.call('HGET', KEYS[5 + i], 'state')
    if stored == 'finished' or stored == 'retracted' then
      state = stored
    end
  end
  reply[#reply + 1] = state
  reply[#reply + 1] = texts[i]
end
return reply
