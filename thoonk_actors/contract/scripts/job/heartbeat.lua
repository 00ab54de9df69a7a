-- job/heartbeat: a worker process says it is alive ('beat') or leaves cleanly ('leave').
-- KEYS[1] workers  zset   worker_id -> heartbeat ms
-- ARGV[1] worker_id   ARGV[2] 'beat' | 'leave'
-- Reply: {'ok', now_ms} | {'wrongtype', key, expected, actual}
local workers = KEYS[1]
local worker, mode = ARGV[1], ARGV[2]

local now = now_ms()
-- The only write, so it is its own type check: a refused ZADD / ZREM changes nothing.
local done, bad
if mode == 'leave' then
  done, bad = write_first('zset', 'ZREM', workers, worker)
else
  done, bad = write_first('zset', 'ZADD', workers, now, worker)
end
if bad then return bad end
return {'ok', now}
