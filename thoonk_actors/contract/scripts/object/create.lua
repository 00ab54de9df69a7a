-- object/create: create a job queue, feed, sorted feed or queue (any type; the
-- caller passes that type's keys). The object exists when its name is in the
-- registry or its config hash exists; create always writes the config field
-- 'created' (ms), so the config hash alone marks it in cluster mode.
-- KEYS[1] config    hash
-- KEYS[2] registry  set    optional; left out in cluster mode
-- ARGV[1] object name (registry member)   ARGV[2] exist_ok '1' | '0'
-- ARGV[3] config channel   ARGV[4] config event payload
-- ARGV[5 ..] field, value pairs (already validated by the caller)
-- Reply: {'ok', 1} created | {'ok', 0} it existed and exist_ok (config left as it was)
--        | {'exists', name} | {'wrongtype', key, expected, actual}
-- Event: config channel with the payload, when created.
local config, registry = KEYS[1], KEYS[2]
local name, exist_ok, channel, payload = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local bad = check_types_reg({config, 'hash'}, registry)
if bad then return bad end
local exists = redis.call('EXISTS', config) == 1
if registry and redis.call('SISMEMBER', registry, name) == 1 then
  exists = true
end
if exists then
  if exist_ok == '1' then return {'ok', 0} end
  return {'exists', name}
end

if registry then redis.call('SADD', registry, name) end
redis.call('HSET', config, 'created', now_ms())
for i = 5, #ARGV, 2 do
  redis.call('HSET', config, ARGV[i], ARGV[i + 1])
end
redis.call('PUBLISH', channel, payload)
return {'ok', 1}
