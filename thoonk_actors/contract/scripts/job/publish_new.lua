-- job/publish_new: queue one job under an id the caller has just made (a random UUID v4).
-- Such an id cannot be taken and cannot have entries left by an earlier job, so the
-- duplicate checks and the clean-up of job/publish are left out; what is stored and
-- published is the same (the original's four writes, the registry, the publish event).
-- KEYS[1]  items       hash   id -> item
-- KEYS[2]  ids         list   (LPUSH normal, RPUSH priority)
-- KEYS[3]  published   zset   id -> publish ms
-- KEYS[4]  publishes   string counter
-- KEYS[5]  registry    set    optional; left out in cluster mode
-- ARGV[1] id   ARGV[2] item   ARGV[3] priority '1' | '0'
-- ARGV[4] publish channel      ARGV[5] object name (registry member)
-- Reply: {'ok', id, publish_ms} | {'duplicate', id} | {'wrongtype', key, expected, actual}
-- Event: publish channel, payload id.
-- HEXISTS first: the items hash's type check, and an id that has an item after all is
-- refused as a duplicate. Each write after it is its key's type check (a write refused
-- for WRONGTYPE changes nothing); a refusal undoes the writes made before it in this
-- same script, where nobody can see them, then replies what a check of every key first
-- would: a refused call changes nothing. The item (the one large value) is written
-- last, once nothing can be refused: an undone HSETNX of a large item used to leave
-- the hash converted from a listpack (DUMP showed it), which no HDEL undoes.
local items, ids, published, publishes, registry = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, item, priority, channel, name = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local push, from = 'LPUSH', 1  -- and where an undo finds the id again (LREM count)
if priority == '1' then push, from = 'RPUSH', -1 end

local done = 0  -- how many writes below took effect (undone in reverse on a refusal)
local added, registered = 0, 0

local function refuse(err)
  if done >= 3 and registered == 1 then redis.call('SREM', registry, name) end
  if done >= 2 and added == 1 then redis.call('ZREM', published, id) end
  if done >= 1 then redis.call('LREM', ids, from, id) end
  local spec = {items, 'hash', ids, 'list', published, 'zset', publishes, 'string'}
  if registry then
    spec[9], spec[10] = registry, 'set'
  end
  local bad = check_types(spec)
  if bad then return bad end
  if string.find(err, 'integer', 1, true) or string.find(err, 'overflow', 1, true) then
    return wrongtype(publishes, 'integer')  -- not an integer, or it would overflow
  end
  return {err = err}  -- anything else (out of memory, ...) as the error it was
end

local function failed(value)
  return type(value) == 'table' and value['err']
end

local value = redis.pcall('HEXISTS', items, id)
if failed(value) then return refuse(value['err']) end
if value == 1 then return {'duplicate', id} end
value = redis.pcall(push, ids, id)
if failed(value) then return refuse(value['err']) end
done = 1
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
added = redis.pcall('ZADD', published, string.format('%d', now), id)
if failed(added) then return refuse(added['err']) end
done = 2
if registry then
  registered = redis.pcall('SADD', registry, name)
  if failed(registered) then return refuse(registered['err']) end
end
done = 3
value = redis.pcall('INCRBY', publishes, 1)
if failed(value) then return refuse(value['err']) end
redis.call('HSET', items, id, item)
redis.call('PUBLISH', channel, id)
return {'ok', id, now}
