-- job/release_many: give several claims back WITHOUT counting a failure, in one step,
-- keeping their order and the turn of jobs pushed to the head since they were claimed.
-- The released jobs go to the head of the queue, in the order given (the first one
-- given is claimed first again), but BEHIND the entries at the head that were pushed
-- there after the claim (priority publishes): walking from the head, entries whose
-- publish time is later than the claim time, each no newer than the one before it
-- (priority jobs pushed at the head come out newest first), are kept in front.
-- Exact when a job queued before the claim ends that run; otherwise (the queue
-- held only newer jobs) best effort: at most one normal job published since stays
-- in front, and a priority batch of one millisecond may be split.
-- KEYS[1] ids        list
-- KEYS[2] claimed    zset
-- KEYS[3] owners     hash
-- KEYS[4] published  zset
-- ARGV[1] release channel
-- ARGV[2] claim ms of the batch (the latest claim among them; '' = read from job.claimed)
-- ARGV[3] n   then n pairs: ARGV[2+2i] id, ARGV[3+2i] token ('' = none)
-- Reply: {'ok', released, id1, status1, ..., idn, statusn}; status 'ok' | 'not_claimed'
--        | 'claim_lost' (per id, decided alone; a repeated id is 'not_claimed' the
--        second time) | {'wrongtype', key, expected, actual}
-- Event: release channel, payload id, per released job.
local ids, claimed, owners, published = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local channel, claim_arg, n = ARGV[1], ARGV[2], tonumber(ARGV[3])

-- Every refusal: all types first.
local function refuse(reply)
  return check_types({ids, 'list', claimed, 'zset', owners, 'hash', published, 'zset'}) or reply
end

local bad = refuse(nil)
if bad then return bad end

local want, tokens = {}, {}
for i = 1, n do
  want[i] = ARGV[2 + 2 * i]
  tokens[i] = ARGV[3 + 2 * i]
end
local scores = read_many('zset', 'ZMSCORE', claimed, want)
local held = read_many('hash', 'HMGET', owners, want)

local reply = {'ok', 0}
local go, seen, latest = {}, {}, 0
for i = 1, n do
  local id, token, score, owner = want[i], tokens[i], scores[i], held[i]
  -- Fencing (the prelude's claim_code); a repeated id is released once.
  local code = seen[id] and 'not_claimed' or claim_code(score, owner, token) or 'ok'
  if code == 'ok' then
    seen[id] = true
    go[#go + 1] = id
    local at = tonumber(score)
    if at > latest then latest = at end
  end
  reply[#reply + 1] = id
  reply[#reply + 1] = code
end
reply[2] = #go
if #go == 0 then return reply end

local since = tonumber(claim_arg) or latest

-- The entries at the head pushed there after the claim: newer than it, newest first.
local keep, kept_at, taken, previous, bounded = {}, {}, 0, nil, false
while true do
  local window = redis.call('LRANGE', ids, -(taken + 64), -(taken + 1))
  if #window == 0 then break end
  local batch = {}
  for i = #window, 1, -1 do
    batch[#batch + 1] = window[i]
  end
  local times = read_many('zset', 'ZMSCORE', published, batch)
  local stop = false
  for i, id in ipairs(batch) do
    local at = tonumber(times[i])
    if not at or at <= since then
      stop, bounded = true, true  -- an entry queued before the claim: the run ends here
      break
    end
    if previous and at > previous then
      stop = true
      break
    end
    previous = at
    keep[#keep + 1] = id
    kept_at[#keep] = at
  end
  taken = taken + #window
  if stop or #window < 64 then break end
end
-- Without an older entry to end the run, its last publish millisecond is ambiguous
-- (a batch of normal jobs published since, pushed on the other side, looks the
-- same): keep only the first entry of it.
if not bounded then
  while #keep > 1 and kept_at[#keep] == kept_at[#keep - 1] do
    keep[#keep] = nil
  end
end

-- Take the kept entries off the head, put the released ones there (first given at
-- the very head), then the kept ones back in front of them.
local k = #keep
if k > 0 then
  redis.call('LTRIM', ids, 0, -(k + 1))
end
local back = {}
for i = #go, 1, -1 do
  back[#back + 1] = go[i]
end
call_many('RPUSH', ids, back)
if k > 0 then
  local front = {}
  for i = k, 1, -1 do
    front[#front + 1] = keep[i]
  end
  call_many('RPUSH', ids, front)
end
call_many('ZREM', claimed, go)
call_many('HDEL', owners, go)
for _, id in ipairs(go) do
  redis.call('PUBLISH', channel, id)
end
return reply
