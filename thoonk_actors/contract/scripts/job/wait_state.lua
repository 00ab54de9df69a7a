-- job/wait_state: what a result waiter needs in one consistent read (read-only).
-- A stored result counts only while no publication of the id is pending: a job id
-- published again (custom ids; the original client never clears our result key)
-- must not answer a waiter with an older run's result.
-- KEYS[1] config     hash   (result_ttl, ms, default 600000)
-- KEYS[2] items      hash   (queued, claimed, stalled and scheduled jobs have an item)
-- KEYS[3] published  zset   (unfinished jobs)
-- KEYS[4] result     hash   job.result:{<n>}:<id>: state, at, [result]
-- ARGV[1] id
-- Reply: {'ok', pending 0|1, result_ttl_ms, state|false, at|false, result|false}
--        | {'bad_config', key, field, value} | {'wrongtype', key, expected, actual}
-- Events: none (changes nothing).
local config, items, published, result = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id = ARGV[1]

local bad = check_types({config, 'hash', items, 'hash', published, 'zset', result, 'hash'})
if bad then return bad end
local ttl
ttl, bad = config_int(config, 'result_ttl')
if bad then return bad end
ttl = ttl or 600000
local pending = 0
if redis.call('HEXISTS', items, id) == 1 or redis.call('ZSCORE', published, id) then
  pending = 1
end
local stored = redis.call('HMGET', result, 'state', 'at', 'result')
return {'ok', pending, ttl, stored[1], stored[2], stored[3]}
