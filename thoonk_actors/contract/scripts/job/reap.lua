-- job/reap: one idempotent maintenance sweep; any number of reapers may run it at once
-- (each sweep is atomic, so a second sweep only sees what the first left).
-- A claim is reaped when it was not renewed for longer than its lease: the lease the
-- claimer recorded in job.leases (claims by our workers), else config `timeout` ms
-- (original workers' claims; 0 or unset = never); or when its owner (claims made by our workers) has a heartbeat older than the
-- staleness window or none at all. An id that has an item but is in none of
-- ids / claimed / stalled (an original worker died between its BRPOP and its claim)
-- is marked; if it is still lost after the orphan grace period, it is reaped too.
-- A reaped job is cancelled (count + 1; back to job.ids after its retry backoff, see
-- job/cancel, or at once when it was lost by an original worker), or stalled once its
-- count reaches config `max_cancels` (default 10); a reaped claim whose item is gone
-- is dropped. Scheduled jobs that are due are moved to job.ids (so original workers,
-- which only BRPOP job.ids, get retried jobs too). Leases of ids no longer claimed
-- are removed. A queued job whose cancel count reached `max_cancels` (cancelled by an
-- original client, which ignores max_cancels) is stalled (reason 'max_cancels').
-- The reason is recorded in job.errors. Heartbeats older than the window are removed.
-- A ghost claim (a claimed id whose item is gone: an original worker claims the id
-- it popped even when the job was retracted meanwhile) is dropped by every sweep,
-- reason 'ghost' unless an earlier rule picked it.
-- Server time only: a claim without an owner entry was made by another client (the
-- original JS worker), whose claim score is ITS clock (Date.now()); such a claim is
-- timed from when a sweep first saw it (job.seen: id -> '<server ms> <claim score>',
-- written here with the server's TIME) and reaped once `timeout` passed since then.
-- An entry counts only while the claim keeps the score it had when seen (a new claim
-- of the id, or a touch, starts it again); entries of ids no longer claimed without an
-- owner are removed. Duplicate entries of a queued id in job.ids (the original accepts
-- publishing a queued id again) are removed when the count check below scans the list,
-- keeping the entry nearest the right end (the one claimed first). Cost: O(claimed + stalled + owners + leases + seen) + progress
-- per sweep; O(items + ids) only when the counts say some job is lost.
-- KEYS[1]  config     hash   (timeout, max_cancels)
-- KEYS[2]  ids        list
-- KEYS[3]  items      hash
-- KEYS[4]  published  zset
-- KEYS[5]  claimed    zset
-- KEYS[6]  cancelled  hash
-- KEYS[7]  stalled    set
-- KEYS[8]  owners     hash
-- KEYS[9]  workers    zset
-- KEYS[10] errors     hash
-- KEYS[11] orphans    hash   id -> ms when first seen lost
-- KEYS[12] leases     hash   id -> lease ms of our claims
-- KEYS[13] scheduled  zset   id -> due ms (retry backoff)
-- KEYS[14] seen       hash   id -> '<server ms> <claim score>' of claims without an owner
-- KEYS[15] progress   hash   id -> last progress (entries of reaped or unclaimed ids are removed)
-- ARGV[1] staleness window ms (0 = skip the heartbeat rule)
-- ARGV[2] orphan grace ms (a mark must be at least this old to act on it)
-- ARGV[3] cancel channel   ARGV[4] stall channel   ARGV[5] jitter seed (0..999)
-- Reply: {'ok', now_ms, n, id1, outcome1, reason1, ...}; outcome 'cancelled' | 'stalled' | 'dropped',
--        reason 'timeout' | 'owner_gone' | 'ghost' | 'orphan' | 'max_cancels'
--        | {'bad_config', key, field, value} | {'wrongtype', key, expected, actual}
-- Events: cancel channel 'id NUL count' or stall channel 'id' per reaped job.
local config, ids, items, published, claimed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cancelled, stalled, owners, workers = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local errors, orphans, leases, scheduled = KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local seen, progress = KEYS[14], KEYS[15]
local stale, grace = tonumber(ARGV[1]), tonumber(ARGV[2])
local cancel_channel, stall_channel, seed = ARGV[3], ARGV[4], tonumber(ARGV[5]) or 0

local bad = check_types({config, 'hash', ids, 'list', items, 'hash', published, 'zset',
  claimed, 'zset', cancelled, 'hash', stalled, 'set', owners, 'hash', workers, 'zset',
  errors, 'hash', orphans, 'hash', leases, 'hash', scheduled, 'zset', seen, 'hash',
  progress, 'hash'})
if bad then return bad end
local timeout, err = config_int(config, 'timeout')
if err then return err end
local max_cancels
max_cancels, err = config_int(config, 'max_cancels')
if err then return err end
if max_cancels == nil then max_cancels = DEFAULTS.max_cancels end
-- The backoff is computed per victim below; read the config once here to refuse
-- garbage before any write.
do
  local _, bad_backoff = backoff_ms(config, 1, 0)
  if bad_backoff then return bad_backoff end
end

local now = now_ms()
local victims, picked = {}, {}
local function pick(id, reason, text)
  if not picked[id] then
    picked[id] = true
    victims[#victims + 1] = {id, reason, text}
  end
end

-- Every claim with its time, oldest first: one read serves rules 1 to 4.
local claims = redis.call('ZRANGE', claimed, 0, -1, 'WITHSCORES')
local is_claimed = {}
for i = 1, #claims, 2 do
  is_claimed[claims[i]] = true
end

-- Owners and leases of our claims (a lease counts only while its claim has an owner:
-- an original worker that claims the id later gets the config timeout).
local owner_pairs = redis.call('HGETALL', owners)
local owner_of = {}
for i = 1, #owner_pairs, 2 do
  owner_of[owner_pairs[i]] = owner_pairs[i + 1]
end
local lease_pairs = redis.call('HGETALL', leases)
local lease_of, stale_leases = {}, {}
for i = 1, #lease_pairs, 2 do
  local id = lease_pairs[i]
  if is_claimed[id] and owner_of[id] then
    lease_of[id] = tonumber(lease_pairs[i + 1])
  else
    stale_leases[#stale_leases + 1] = id
  end
end

-- When a sweep first saw each claim without an owner (server ms), with its score then.
local sighted, seen_ids = {}, {}
do
  local seen_pairs = redis.call('HGETALL', seen)
  for i = 1, #seen_pairs, 2 do
    local at, score = string.match(seen_pairs[i + 1], '^(%d+) (.*)$')
    seen_ids[#seen_ids + 1] = seen_pairs[i]
    if at then
      sighted[seen_pairs[i]] = {tonumber(at), score}
    end
  end
end
local keep_seen, new_seen = {}, {}

-- Rule 1: claims not renewed within their lease (oldest first, the claims' order).
-- Our claims' scores are server time; a claim without an owner is timed by job.seen.
for i = 1, #claims, 2 do
  local id = claims[i]
  if owner_of[id] then
    local lease = lease_of[id]
    local whose = 'its lease'
    if lease == nil then
      lease, whose = timeout, 'the queue timeout'
    end
    local score = tonumber(claims[i + 1])
    if lease and lease > 0 and score and score <= now - lease then
      pick(id, 'timeout', 'reaped: claim not renewed within ' .. whose .. ' of '
        .. int_str(lease) .. ' ms')
    end
  elseif timeout and timeout > 0 then
    local mark = sighted[id]
    if mark and mark[2] == claims[i + 1] then
      keep_seen[id] = true
      if mark[1] <= now - timeout then
        pick(id, 'timeout', 'reaped: claim by a client without a lease not finished within '
          .. 'the queue timeout of ' .. int_str(timeout) .. ' ms (server clock, from '
          .. int_str(mark[1]) .. ')')
      end
    else
      new_seen[id] = int_str(now) .. ' ' .. claims[i + 1]
    end
  end
end

-- Rule 2: claims whose owner stopped heartbeating. Owner entries of ids that are
-- no longer claimed (an original client finished them) are cleaned up here.
local leftover = {}
local alive = {}
for i = 1, #owner_pairs, 2 do
  local id, owner = owner_pairs[i], owner_pairs[i + 1]
  if not is_claimed[id] then
    leftover[#leftover + 1] = id
  elseif stale > 0 then
    local worker = owner_worker(owner)
    if alive[worker] == nil then
      local beat = redis.call('ZSCORE', workers, worker)
      alive[worker] = (beat and tonumber(beat) >= now - stale) or false
    end
    if not alive[worker] then
      pick(id, 'owner_gone', "reaped: owner '" .. worker .. "' stopped heartbeating")
    end
  end
end

-- Rule 3: ghost claims. Nothing else would ever end them (no worker holds a job),
-- and they would throw rule 4's count off by one each.
local claimed_items = 0
for i = 1, #claims, 2 do
  if redis.call('HEXISTS', items, claims[i]) == 1 then
    claimed_items = claimed_items + 1
  else
    pick(claims[i], 'ghost', '')
  end
end

-- Rule 4: the claim gap of original workers: an item in no state. When nothing is
-- lost, every item is queued, claimed or stalled, so the count of items equals
-- LLEN ids + claims with an item + stalls with an item (not also claimed), and the
-- scan of every item is skipped. Claims and stalls are counted only with an item and
-- only once, so ghosts and ids in both places (original clients make both, and they
-- stay until something ends them) cannot balance a lost job. Entries of job.ids are
-- counted without a look (that would cost O(queue) per sweep): a duplicate entry, a
-- ghost entry or an entry of a claimed or stalled id can hide a lost job from the
-- count only until a claim pops it -- a claim drops such entries (or claims the id),
-- so the list heals on pop.
local lost = {}
local duplicates = {}  -- {id, extra entries}: written below, after every read
local marks = {}
local mark_pairs = redis.call('HGETALL', orphans)
for i = 1, #mark_pairs, 2 do
  marks[mark_pairs[i]] = tonumber(mark_pairs[i + 1]) or now
end
local is_stalled = {}
local stalled_items = 0
for _, id in ipairs(redis.call('SMEMBERS', stalled)) do
  is_stalled[id] = true
  if not is_claimed[id] then  -- claimed as well (original clients can do that): counted once
    stalled_items = stalled_items + redis.call('HEXISTS', items, id)
  end
end
-- Jobs waiting out their retry backoff are in a state too. Counted without a look
-- (like job.ids entries): a scheduled id whose item is gone can hide a lost job only
-- until it is due, when the promote step drops it.
local total = redis.call('LLEN', ids) + claimed_items + stalled_items
  + redis.call('ZCARD', scheduled)
if redis.call('HLEN', items) ~= total then
  local is_scheduled = {}
  for _, id in ipairs(redis.call('ZRANGE', scheduled, 0, -1)) do
    is_scheduled[id] = true
  end
  local queued = {}
  for _, id in ipairs(redis.call('LRANGE', ids, 0, -1)) do
    queued[id] = (queued[id] or 0) + 1
  end
  for id, n in pairs(queued) do
    if n > 1 then
      duplicates[#duplicates + 1] = {id, n - 1}
    end
  end
  for _, id in ipairs(redis.call('HKEYS', items)) do
    if not queued[id] and not is_claimed[id] and not is_stalled[id] and not is_scheduled[id] then
      lost[id] = true
      if marks[id] and now - marks[id] >= grace then
        pick(id, 'orphan', 'reaped: job was in no state (a worker died between pop and claim)')
      end
    end
  end
end

-- Rule 5: queued jobs whose cancel count reached max_cancels. The original's cancel
-- ignores max_cancels and queues the job again, so they are stalled here, whoever
-- cancelled them. O(cancelled) per sweep (the ids with a count), LPOS per such id.
local over = {}
if max_cancels > 0 then
  local counts = redis.call('HGETALL', cancelled)
  for i = 1, #counts, 2 do
    local id, count = counts[i], tonumber(counts[i + 1])
    if count and count >= max_cancels and not picked[id] and not is_claimed[id]
        and not is_stalled[id] and redis.call('HEXISTS', items, id) == 1
        and redis.call('LPOS', ids, id) then
      over[#over + 1] = {id, count}
    end
  end
end

-- Writes start here; everything above only read.
local reply = {'ok', now, #victims + #over}
for n, v in ipairs(victims) do
  local id, reason, text = v[1], v[2], v[3]
  local outcome
  redis.call('ZREM', claimed, id)
  redis.call('HDEL', owners, id)
  redis.call('HDEL', leases, id)
  redis.call('HDEL', orphans, id)
  if redis.call('HEXISTS', items, id) == 0 then
    -- A ghost claim: there is nothing to give back.
    redis.call('HDEL', cancelled, id)
    redis.call('HDEL', errors, id)
    redis.call('ZREM', published, id)
    outcome = 'dropped'
  else
    local count = (tonumber(redis.call('HGET', cancelled, id)) or 0) + 1
    redis.call('HSET', errors, id, text)
    if max_cancels > 0 and count >= max_cancels then
      redis.call('HDEL', cancelled, id)
      redis.call('SADD', stalled, id)
      redis.call('ZREM', published, id)
      redis.call('PUBLISH', stall_channel, id)
      outcome = 'stalled'
    else
      redis.call('HSET', cancelled, id, count)
      local delay = 0
      if reason ~= 'orphan' then  -- a job lost by an original worker did not fail
        delay = backoff_ms(config, count, (seed + 397 * n) % 1000)
      end
      if delay > 0 then
        redis.call('ZADD', scheduled, int_str(now + delay), id)
      else
        redis.call('LPUSH', ids, id)
      end
      redis.call('PUBLISH', cancel_channel, id .. '\0' .. int_str(count))
      outcome = 'cancelled'
    end
  end
  reply[#reply + 1] = id
  reply[#reply + 1] = outcome
  reply[#reply + 1] = reason
end
for _, v in ipairs(over) do
  local id = v[1]
  redis.call('LREM', ids, 0, id)
  redis.call('HDEL', cancelled, id)
  redis.call('HSET', errors, id, 'reaped: cancelled ' .. int_str(v[2])
    .. ' times (max_cancels is ' .. int_str(max_cancels) .. ')')
  redis.call('SADD', stalled, id)
  redis.call('ZREM', published, id)
  redis.call('PUBLISH', stall_channel, id)
  reply[#reply + 1] = id
  reply[#reply + 1] = 'stalled'
  reply[#reply + 1] = 'max_cancels'
end
for _, v in ipairs(duplicates) do
  -- From the left: the entry nearest the right end (next in line) stays.
  redis.call('LREM', ids, v[2], v[1])
end
for _, id in ipairs(leftover) do
  redis.call('HDEL', owners, id)
end
-- job.seen: drop entries of claims that ended, got an owner, changed or were reaped.
do
  local drop = {}
  for _, id in ipairs(seen_ids) do
    if not keep_seen[id] or picked[id] then
      drop[#drop + 1] = id
    end
  end
  if #drop > 0 then
    call_many('HDEL', seen, drop)
  end
  local fresh = {}
  for id, value in pairs(new_seen) do
    if not picked[id] then  -- a ghost claim was dropped above
      fresh[#fresh + 1] = id
      fresh[#fresh + 1] = value
    end
  end
  if #fresh > 0 then
    call_many('HSET', seen, fresh)
  end
end
if #stale_leases > 0 then
  call_many('HDEL', leases, stale_leases)
end
-- Progress of claims that ended here or elsewhere (a release, an original
-- worker's finish): kept only while its job is claimed.
local stale_progress = {}
for _, id in ipairs(redis.call('HKEYS', progress)) do
  if picked[id] or not is_claimed[id] then
    stale_progress[#stale_progress + 1] = id
  end
end
if #stale_progress > 0 then
  call_many('HDEL', progress, stale_progress)
end
promote_due(scheduled, ids, items, now, 1000)
-- Orphan marks: keep the ones still lost, add new ones, forget the rest.
for id, _ in pairs(marks) do
  if not lost[id] or picked[id] then
    redis.call('HDEL', orphans, id)
  end
end
for id, _ in pairs(lost) do
  if not marks[id] then
    redis.call('HSET', orphans, id, now)
  end
end
if stale > 0 then
  redis.call('ZREMRANGEBYSCORE', workers, '-inf', '(' .. int_str(now - stale))
end
return reply
