-- job/publish_many: queue several jobs at once; all or nothing on duplicates.
-- KEYS[1]  ids         list
-- KEYS[2]  items       hash
-- KEYS[3]  published   zset
-- KEYS[4]  claimed     zset   (duplicate check)
-- KEYS[5]  stalled     set    (duplicate check)
-- KEYS[6]  cancelled   hash
-- KEYS[7]  owners      hash
-- KEYS[8]  errors      hash
-- KEYS[9]  orphans     hash
-- KEYS[10] publishes   string counter
-- KEYS[11 .. 10+n]     result key of each job, in ARGV order
-- KEYS[11+n] registry  set, optional; left out in cluster mode
-- ARGV[1] publish channel   ARGV[2] object name   ARGV[3] n
-- ARGV[4 + 3*(i-1) ..] id, item, priority ('1' | '0') for job i = 1..n
-- Reply: {'ok', publish_ms, id1, ..., idn} | {'duplicate', id} | {'wrongtype', key, expected, actual}
-- Event: publish channel, payload id, once per job in order.
local ids, items, published, claimed, stalled = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cancelled, owners, errors, orphans = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local publishes = KEYS[10]
local channel, name, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local registry = KEYS[11 + n]

local spec = {ids, 'list', items, 'hash', published, 'zset', claimed, 'zset',
  stalled, 'set', cancelled, 'hash', owners, 'hash', errors, 'hash', orphans, 'hash',
  publishes, 'string'}
for i = 1, n do
  spec[#spec + 1] = KEYS[10 + i]
  spec[#spec + 1] = 'hash'
end
if registry then
  spec[#spec + 1] = registry
  spec[#spec + 1] = 'set'
end
local bad = check_types(spec)
if bad then return bad end
bad = check_counters({publishes})
if bad then return bad end

local seen = {}
for i = 1, n do
  local id = ARGV[4 + 3 * (i - 1)]
  if seen[id] or redis.call('HEXISTS', items, id) == 1 or redis.call('ZSCORE', claimed, id)
      or redis.call('SISMEMBER', stalled, id) == 1 then
    return {'duplicate', id}
  end
  seen[id] = true
end

local now = now_ms()
redis.call('INCRBY', publishes, n)
local reply = {'ok', now}
for i = 1, n do
  local base = 4 + 3 * (i - 1)
  local id, item, priority = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  if priority == '1' then
    redis.call('RPUSH', ids, id)
  else
    redis.call('LPUSH', ids, id)
  end
  redis.call('HSET', items, id, item)
  redis.call('ZADD', published, now, id)
  redis.call('HDEL', cancelled, id)
  redis.call('HDEL', owners, id)
  redis.call('HDEL', errors, id)
  redis.call('HDEL', orphans, id)
  redis.call('DEL', KEYS[10 + i])
  reply[#reply + 1] = id
end
if registry and n > 0 then
  redis.call('SADD', registry, name)
end
for i = 1, n do
  redis.call('PUBLISH', channel, ARGV[4 + 3 * (i - 1)])
end
return reply
