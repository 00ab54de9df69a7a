-- job/heartbeat: a worker process says it is alive ('beat') or leaves cleanly ('leave').
-- KEYS[1] workers  zset   worker_id -> heartbeat ms
-- ARGV[1] worker_id   ARGV[2] 'beat' | 'leave'
-- Reply: {'ok', now_ms} | {'wrongtype', key, expected, actual}
local workers = KEYS[1]
local worker, mode = ARGV[1], ARGV[2]

local bad = check_types({workers, 'zset'})
if bad then return bad end
local now = now_ms()
if mode == 'leave' then
  redis.call('ZREM', workers, worker)
else
  redis.call('ZADD', workers, now, worker)
end
return {'ok', now}
