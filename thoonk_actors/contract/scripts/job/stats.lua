-- job/stats: one consistent snapshot of a job queue's counts (read-only).
-- KEYS[1] ids        list
-- KEYS[2] items      hash
-- KEYS[3] claimed    zset
-- KEYS[4] stalled    set
-- KEYS[5] publishes  string counter
-- KEYS[6] finishes   string counter
-- KEYS[7] workers    zset
-- ARGV[1] staleness window ms: workers whose heartbeat is older are not counted as alive
-- Reply: {'ok', now_ms, available, claimed, stalled, items, publishes, finishes, workers_alive}
--        | {'wrongtype', key, expected, actual}
local ids, items, claimed, stalled = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local publishes, finishes, workers = KEYS[5], KEYS[6], KEYS[7]
local stale = tonumber(ARGV[1])

local bad = check_types({ids, 'list', items, 'hash', claimed, 'zset', stalled, 'set',
  publishes, 'string', finishes, 'string', workers, 'zset'})
if bad then return bad end
local now = now_ms()
return {'ok', now, redis.call('LLEN', ids), redis.call('ZCARD', claimed),
  redis.call('SCARD', stalled), redis.call('HLEN', items),
  tonumber(redis.call('GET', publishes)) or 0, tonumber(redis.call('GET', finishes)) or 0,
  redis.call('ZCOUNT', workers, int_str(now - stale), '+inf')}
