-- object/register: add an object that exists but is in no registry (another client
-- wrote it: the original JavaScript Thoonk Jobs never registers its job queues) to
-- its type's registry. Idempotent: registering a registered object changes nothing.
-- The object exists when any of its keys exists; a name with no key at all is
-- refused, so a typo does not make a phantom entry.
-- KEYS[1 .. n]  every key of the object (config first, as object/delete takes them)
-- KEYS[n+1]     registry  set    optional; left out in cluster mode (the client adds
--                                the name with SADD after a successful reply)
-- ARGV[1] object name (registry member)   ARGV[2] n = number of object keys
-- Reply: {'ok', 1} registered now | {'ok', 0} it was registered already
--        | {'no_such_object', name} | {'wrongtype', key, expected, actual}
local name, n = ARGV[1], tonumber(ARGV[2])
local registry = KEYS[n + 1]

local bad = check_types_reg({}, registry)
if bad then return bad end
if registry and redis.call('SISMEMBER', registry, name) == 1 then
  return {'ok', 0}
end
local present = 0
for first = 1, n, UNPACK_MAX do
  present = present + redis.call('EXISTS', unpack(KEYS, first, math.min(first + UNPACK_MAX - 1, n)))
  if present > 0 then break end
end
if present == 0 then
  return {'no_such_object', name}
end
if registry then
  redis.call('SADD', registry, name)
end
return {'ok', 1}
