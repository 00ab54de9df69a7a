-- object/delete: remove every key of an object and its registry entry (any type).
-- Per-job result keys are not listed anywhere; they expire on their own (result_ttl).
-- KEYS[1 .. n]  every key of the object (config first)
-- KEYS[n+1]     registry set, optional; left out in cluster mode
-- ARGV[1] object name   ARGV[2] delete channel   ARGV[3] n
-- Reply: {'ok', 1} when something was deleted, {'ok', 0} when nothing was there
--        | {'wrongtype', key, expected, actual} (only the registry is checked)
-- Event: delete channel, payload the object name (also when nothing was there,
-- so every process drops its cached state).
local name, channel, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local registry = KEYS[n + 1]

local bad = check_types_reg({}, registry)
if bad then return bad end
local existed = 0
if registry then
  existed = redis.call('SREM', registry, name)
end
for i = 1, n do
  existed = existed + redis.call('DEL', KEYS[i])
end
redis.call('PUBLISH', channel, name)
return {'ok', existed > 0 and 1 or 0}
