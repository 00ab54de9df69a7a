-- job/stats: one consistent snapshot of a job queue's counts (read-only).
-- KEYS[1] ids        list
-- KEYS[2] items      hash
-- KEYS[3] claimed    zset
-- KEYS[4] stalled    set
-- KEYS[5] publishes  string counter
-- KEYS[6] finishes   string counter
-- KEYS[7] workers    zset
-- KEYS[8] scheduled  zset   (jobs waiting out their retry backoff)
-- KEYS[9] config     hash   (max_concurrent)
-- KEYS[10] limits    hash   (held, held_ms: the last claim a limit held back)
-- ARGV[1] staleness window ms: workers whose heartbeat is older are not counted as alive
-- Reply: {'ok', now_ms, available (distinct ids a claim would take), claimed, stalled, items, publishes, finishes, workers_alive,
--         scheduled, held}
--        | {'wrongtype', key, expected, actual} | {'bad_config', key, field, value}
-- held: why queued jobs wait although workers could take them: 'concurrency' when
-- max_concurrent jobs are claimed, 'rate' when max_per_second held a claim back in
-- the last 2 s (held claimers retry within 1 s), else ''.
local ids, items, claimed, stalled = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local publishes, finishes, workers, scheduled = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local config, limits = KEYS[9], KEYS[10]
local stale = tonumber(ARGV[1])

-- Every read is also the type check of its key; a refusal reports all types in order.
local counts, bad = {}, nil
for i, spec in ipairs({{'list', 'LLEN', ids}, {'zset', 'ZCARD', claimed}, {'set', 'SCARD', stalled},
    {'hash', 'HLEN', items}, {'string', 'GET', publishes}, {'string', 'GET', finishes},
    {'zset', 'ZCARD', scheduled}}) do
  counts[i], bad = read(spec[1], spec[2], spec[3])
  if bad then break end
end
local now = now_ms()
local alive
if not bad then
  alive, bad = read('zset', 'ZCOUNT', workers, int_str(now - stale), '+inf')
end
local held, concurrent, last = '', nil, nil
if not bad then
  concurrent, bad = config_int(config, 'max_concurrent')
end
if not bad then
  last, bad = read('hash', 'HMGET', limits, 'held', 'held_ms')
end
if bad then
  return check_types({ids, 'list', items, 'hash', claimed, 'zset', stalled, 'set',
    publishes, 'string', finishes, 'string', workers, 'zset', scheduled, 'zset',
    config, 'hash', limits, 'hash'}) or bad
end
-- Available: the ids a claim would take, each once. Duplicate entries (the original
-- accepts publishing a queued id again), entries whose item is gone and entries of
-- claimed ids are in LLEN, but a claim drops them. When every job is in exactly one
-- state, LLEN + claimed + stalled + scheduled = items and LLEN is the count (O(1));
-- otherwise the list is read and each id that has an item and no claim counted once
-- (O(ids): until a claim pops the odd entries or a reap sweep removes duplicates).
local available = counts[1]
if available > 0 and available + counts[2] + counts[3] + counts[7] ~= counts[4] then
  local distinct, once = {}, {}
  for _, id in ipairs(redis.call('LRANGE', ids, 0, -1)) do
    if not once[id] then
      once[id] = true
      distinct[#distinct + 1] = id
    end
  end
  local claims = read_many('zset', 'ZMSCORE', claimed, distinct)
  available = 0
  for i, id in ipairs(distinct) do
    if not claims[i] and redis.call('HEXISTS', items, id) == 1 then
      available = available + 1
    end
  end
end
if available > 0 then
  if concurrent and concurrent > 0 and counts[2] >= concurrent then
    held = 'concurrency'
  elseif last[1] == 'rate' and now - (tonumber(last[2]) or 0) <= 2000 then
    held = 'rate'
  end
end
return {'ok', now, available, counts[2], counts[3], counts[4],
  tonumber(counts[5]) or 0, tonumber(counts[6]) or 0, alive, counts[7], held}
