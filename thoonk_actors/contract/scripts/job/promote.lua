-- job/promote: move the scheduled jobs that are due to the back of job.ids, and tell
-- when the next one is due, so a waiting worker sleeps no longer than that. Run by
-- wait_for_work before it blocks; claim and reap do the same step inside their own
-- scripts. Any number of processes may run it at once: a due id is moved once.
-- One mechanism for every job that waits for a time: retry backoff (job/cancel,
-- job/reap) and delayed publish (job/publish, job/publish_many with a due time).
-- KEYS[1] ids        list   (LPUSH: where a cancel puts a job)
-- KEYS[2] items      hash   (ids whose item is gone are dropped, not queued)
-- KEYS[3] scheduled  zset   id -> due ms (server clock)
-- ARGV[1] most ids moved by this call (1..10000)
-- Reply: {'ok', now_ms, moved, next_due_ms (-1 = nothing scheduled)}
--        | {'wrongtype', key, expected, actual}
-- Event: none (the job was announced by the cancel or the schedule event that put it there).
local ids, items, scheduled = KEYS[1], KEYS[2], KEYS[3]
local limit = tonumber(ARGV[1])

local now = now_ms()
local due, bad = read('zset', 'ZRANGEBYSCORE', scheduled, '-inf', int_str(now), 'LIMIT', 0, 1)
if bad then return check_types({ids, 'list', items, 'hash', scheduled, 'zset'}) end
local moved = 0
if #due > 0 then
  bad = check_types({ids, 'list', items, 'hash', scheduled, 'zset'})
  if bad then return bad end
  moved = promote_due(scheduled, ids, items, now, limit)
end
return {'ok', now, moved, next_due(scheduled)}
