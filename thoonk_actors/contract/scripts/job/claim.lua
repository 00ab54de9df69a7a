-- job/claim: atomically pop up to N ids from the right of job.ids and claim them.
-- Closes the original's BRPOP/claim gap: the id is never off job.ids unclaimed.
-- Ids whose item is gone (ghosts) or that are already claimed (duplicate list
-- entries) are popped and dropped, not claimed.
-- KEYS[1] ids        list   (pop from the right)
-- KEYS[2] items      hash
-- KEYS[3] claimed    zset   id -> claim ms
-- KEYS[4] owners     hash   id -> 'worker_id:token'
-- KEYS[5] tokens     string counter of claim tokens
-- KEYS[6] workers    zset   worker_id -> heartbeat ms (a claim is a sign of life)
-- KEYS[7] cancelled  hash   (read: failure count of each claimed job)
-- ARGV[1] worker_id   ARGV[2] max jobs (>= 1)   ARGV[3] claim channel
-- Reply: {'ok', claim_ms, n, dropped, id1, item1, token1, count1, ..., idn, itemn, tokenn, countn}
--        | {'wrongtype', key, expected, actual}
-- Event: claim channel, payload id, per claimed job.
local ids, items, claimed, owners = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local tokens, workers, cancelled = KEYS[5], KEYS[6], KEYS[7]
local worker, want, channel = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local bad = check_types({ids, 'list', items, 'hash', claimed, 'zset', owners, 'hash',
  tokens, 'string', workers, 'zset', cancelled, 'hash'})
if bad then return bad end

local now = now_ms()
local got, dropped = {}, 0
while #got < want do
  local id = redis.call('RPOP', ids)
  if not id then break end
  local item = redis.call('HGET', items, id)
  if item and not redis.call('ZSCORE', claimed, id) then
    got[#got + 1] = {id, item}
  else
    dropped = dropped + 1
  end
end

local reply = {'ok', now, #got, dropped}
if #got > 0 then
  local last = redis.call('INCRBY', tokens, #got)
  redis.call('ZADD', workers, now, worker)
  for i, job in ipairs(got) do
    local id, token = job[1], int_str(last - #got + i)
    redis.call('ZADD', claimed, now, id)
    redis.call('HSET', owners, id, worker .. ':' .. token)
    local count = tonumber(redis.call('HGET', cancelled, id)) or 0
    reply[#reply + 1] = id
    reply[#reply + 1] = job[2]
    reply[#reply + 1] = token
    reply[#reply + 1] = count
    redis.call('PUBLISH', channel, id)
  end
end
return reply
