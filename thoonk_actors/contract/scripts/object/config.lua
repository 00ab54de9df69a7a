-- object/config: change config fields of an existing object (any type).
-- KEYS[1] config    hash
-- KEYS[2] registry  set    optional; left out in cluster mode
-- ARGV[1] object name   ARGV[2] config channel   ARGV[3] config event payload
-- ARGV[4] n = number of fields to set
-- ARGV[5 .. 4+2n] field, value pairs to set; ARGV[5+2n ..] fields to remove
-- Reply: {'ok'} | {'no_such_object', name} | {'wrongtype', key, expected, actual}
-- Event: config channel with the payload.
local config, registry = KEYS[1], KEYS[2]
local name, channel, payload, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

local bad = check_types_reg({config, 'hash'}, registry)
if bad then return bad end
local exists = redis.call('EXISTS', config) == 1
if registry and redis.call('SISMEMBER', registry, name) == 1 then
  exists = true
end
if not exists then
  return {'no_such_object', name}
end

for i = 5, 4 + 2 * n, 2 do
  redis.call('HSET', config, ARGV[i], ARGV[i + 1])
end
for i = 5 + 2 * n, #ARGV do
  redis.call('HDEL', config, ARGV[i])
end
redis.call('PUBLISH', channel, payload)
return {'ok'}
