"""The original JavaScript Thoonk Jobs client (thoonk-jobs.js on thoonk.js 1.0), in redis-py.

Synopsis::

    js = JsJob(url, "emails")             # SCRIPT LOADs the nine original scripts
    job_id = js.publish({"to": "a@b"})    # EVALSHA publish 0 emails <id> <json> <ms>
    got = js.get(timeout=1)               # BRPOP, then EVALSHA get: (json_text, id) | None
    js.finish(job_id, "done")             # PUBLISH event.job.finish:emails "<id>\\0done"
    js.close()

Written from the recording in ``/work/shared/THOONK-ORIGINAL.md`` §1-§2 (not from
the original sources): the same commands, in the same order, on the same keys,
so our tests can put a faithful original peer beside our client.

* Every operation is one Lua script loaded with ``SCRIPT LOAD`` and run with
  ``EVALSHA <sha> 0 <name> <args...>``: numkeys 0, the object name is
  ``ARGV[1]``, the script builds the key names itself (standalone Redis only).
  Like the original there is no fallback to EVAL on NOSCRIPT.
* Replies follow the original convention ``{err_or_false, ...}``; an error
  string becomes :class:`JsError`.
* ``get`` is the original's two steps on two connections: ``BRPOP`` on the
  blocking connection, then the ``get`` script on the command connection.
  :meth:`JsJob.pop` and :meth:`JsJob.claim` are those steps alone, to simulate a
  worker that dies in between.
* Times are the client's clock in ms (``Date.now()``; ``clock_skew_ms`` makes a
  host whose clock is off); items are
  ``JSON.stringify(item)``; results are passed through as given (the original
  leaves a falsy result out).
* The original never sends SELECT: give it a database-0 URL. redis-py sends no
  SELECT for db 0 either.

One deviation, for test speed only: ``get(timeout)`` accepts fractions of a
second (the original sends whole seconds; Redis >= 6 takes both).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import redis

# The effects of the original scripts, step by step as THOONK-ORIGINAL.md §2 records
# them (ARGV[1] is always the object name; keys are built here, as the original does).
SCRIPTS: dict[str, str] = {
    # publish 0 <n> <id> <json> <nowMs> [<priority>]: any 5th argument means priority.
    "publish": """
local name, id, item, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if ARGV[5] then
  redis.call('RPUSH', 'job.ids:' .. name, id)
else
  redis.call('LPUSH', 'job.ids:' .. name, id)
end
redis.call('INCR', 'job.publishes:' .. name)
redis.call('HSET', 'job.items:' .. name, id, item)
redis.call('ZADD', 'job.published:' .. name, now, id)
return {false, item, id}
""",
    # get 0 <n> <id> <nowMs>: the second step of a worker's get, after its BRPOP.
    "get": """
local name, id, now = ARGV[1], ARGV[2], ARGV[3]
if redis.call('ZADD', 'job.claimed:' .. name, now, id) ~= 1 then
  return {'Could not claim job'}
end
local item = redis.call('HGET', 'job.items:' .. name, id)
return {false, item, id}
""",
    # finish 0 <n> <id> [<result>]
    "finish": """
local name, id, result = ARGV[1], ARGV[2], ARGV[3]
if redis.call('ZREM', 'job.claimed:' .. name, id) == 0 then
  return {'Job not claimed', false}
end
redis.call('HDEL', 'job.cancelled:' .. name, id)
redis.call('ZREM', 'job.published:' .. name, id)
redis.call('INCR', 'job.finishes:' .. name)
if result then
  redis.call('PUBLISH', 'event.job.finish:' .. name, id .. '\\0' .. result)
else
  redis.call('PUBLISH', 'event.job.finish:' .. name, id)
end
redis.call('HDEL', 'job.items:' .. name, id)
if result then
  return {false, id, result}
end
return {false, id}
""",
    # cancel 0 <n> <id>
    "cancel": """
local name, id = ARGV[1], ARGV[2]
if redis.call('ZREM', 'job.claimed:' .. name, id) == 0 then
  return {'No job found!', id}
end
redis.call('HINCRBY', 'job.cancelled:' .. name, id, 1)
redis.call('LPUSH', 'job.ids:' .. name, id)
return {false, id}
""",
    # stall 0 <n> <id>: note the misspelt published key (no colon), kept on purpose.
    "stall": """
local name, id = ARGV[1], ARGV[2]
if redis.call('ZREM', 'job.claimed:' .. name, id) == 0 then
  return {'Job not claimed', id}
end
redis.call('HDEL', 'job.cancelled:' .. name, id)
redis.call('SADD', 'job.stalled:' .. name, id)
redis.call('ZREM', 'job.published' .. name, id)
return {false, id}
""",
    # retry 0 <n> <id> <nowMs>
    "retry": """
local name, id, now = ARGV[1], ARGV[2], ARGV[3]
if redis.call('SREM', 'job.stalled:' .. name, id) == 0 then
  return {'Job not stalled', id}
end
redis.call('LPUSH', 'job.ids:' .. name, id)
redis.call('ZADD', 'job.published:' .. name, now, id)
return {false, id}
""",
    # retract 0 <n> <id>
    "retract": """
local name, id = ARGV[1], ARGV[2]
if redis.call('HDEL', 'job.items:' .. name, id) == 0 then
  return {'Job not found!', id}
end
redis.call('HDEL', 'job.cancelled:' .. name, id)
redis.call('ZREM', 'job.published:' .. name, id)
redis.call('SREM', 'job.stalled:' .. name, id)
redis.call('ZREM', 'job.claimed:' .. name, id)
redis.call('LREM', 'job.ids:' .. name, 1, id)
return {false, id}
""",
}


class JsError(Exception):
    """An error the original passes to its callback (``cb('Job not claimed', ...)``)."""


def json_stringify(value: Any) -> str:
    """``JSON.stringify(value)`` for JSON-safe values: compact, non-ASCII kept as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def date_now() -> int:
    """``Date.now()``: the client clock in ms."""
    return int(time.time() * 1000)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


class JsJob:
    """One original ``Job`` object: a command connection and a blocking (BRPOP) connection."""

    def __init__(self, url: str, name: str, *, clock_skew_ms: int = 0) -> None:
        """``clock_skew_ms``: how far this host's clock is off (-400_000: 400 s behind)."""
        self.name = name
        self.clock_skew_ms = clock_skew_ms
        self.redis = redis.Redis.from_url(url)
        self.blocking = redis.Redis.from_url(url)
        # registerObject: SCRIPT LOAD every script, then only EVALSHA.
        self._shas = {op: str(self.redis.script_load(src)) for op, src in SCRIPTS.items()}

    def close(self) -> None:
        self.redis.close()
        self.blocking.close()

    def __enter__(self) -> JsJob:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def now(self) -> int:
        """This host's ``Date.now()``: the local clock plus its skew."""
        return date_now() + self.clock_skew_ms

    def _run(self, op: str, *args: str | int) -> list[Any]:
        reply = self.redis.evalsha(self._shas[op], 0, self.name, *args)
        assert isinstance(reply, list), reply
        if reply and reply[0] is not None:
            raise JsError(reply[0].decode())
        return reply

    # ------------------------------------------------------------ operations

    def publish(self, item: Any, *, id: str | None = None, priority: bool = False) -> str:
        """``job.publish(item, {id, priority}, cb)``; returns the id."""
        job_id = id if id is not None else str(uuid.uuid4())
        args: list[str | int] = [job_id, json_stringify(item), self.now()]
        if priority:
            args.append("true")
        reply = self._run("publish", *args)
        assert reply[2] == job_id.encode(), reply
        return job_id

    def pop(self, timeout: float = 0) -> str | None:
        """Step 1 of ``get``: ``BRPOP job.ids:<n> <timeout>``; the id, or None on timeout."""
        popped = self.blocking.brpop([f"job.ids:{self.name}"], timeout=timeout)
        if popped is None:
            return None
        job_id = popped[1]
        assert isinstance(job_id, bytes), popped
        return job_id.decode()

    def claim(self, job_id: str) -> str | None:
        """Step 2 of ``get``: the get script; the item's JSON text (None if it has none)."""
        reply = self._run("get", job_id, self.now())
        return _text(reply[1])

    def get(self, timeout: float = 0) -> tuple[str | None, str] | None:
        """``job.get(timeout, cb)``: (json_text, id), or None on 'Timeout'."""
        job_id = self.pop(timeout)
        if job_id is None:
            return None
        return self.claim(job_id), job_id

    def finish(self, job_id: str, result: str | None = None) -> None:
        """``job.finish(id, result, cb)``; a falsy result is left out, as the original does."""
        if result:
            self._run("finish", job_id, result)
        else:
            self._run("finish", job_id)

    def cancel(self, job_id: str) -> None:
        self._run("cancel", job_id)

    def stall(self, job_id: str) -> None:
        self._run("stall", job_id)

    def retry(self, job_id: str) -> None:
        self._run("retry", job_id, self.now())

    def retract(self, job_id: str) -> None:
        self._run("retract", job_id)

    def get_failure_count(self, job_id: str) -> int:
        """``job.getFailureCount(id, cb)``: a plain HGET (a missing count reads as 0 here)."""
        raw = self.redis.hget(f"job.cancelled:{self.name}", job_id)
        return 0 if raw is None else int(raw)


class JsFinishListener:
    """What a JS publisher listens to: ``SUBSCRIBE event.job.finish:<n>`` (acknowledged)."""

    def __init__(self, url: str, name: str) -> None:
        self.channel = f"event.job.finish:{name}".encode()
        self._redis = redis.Redis.from_url(url)
        self._pubsub = self._redis.pubsub()  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(self.channel)
        ack = self._pubsub.get_message(timeout=10)
        assert ack is not None and ack["type"] == "subscribe", ack

    def close(self) -> None:
        self._pubsub.close()
        self._redis.close()

    def __enter__(self) -> JsFinishListener:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def payload(self, timeout: float = 10.0) -> bytes:
        """The raw bytes of the next finish message (blocking; run it in a thread)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self._pubsub.get_message(timeout=left)
            if message is not None and message["type"] == "message":
                assert message["channel"] == self.channel, message
                data = message["data"]
                assert isinstance(data, bytes)
                return data
        raise AssertionError(f"no message on {self.channel!r} within {timeout:g} s")

    def pending(self) -> list[bytes]:
        """Every finish payload already received, without waiting."""
        got = []
        while (message := self._pubsub.get_message(timeout=0)) is not None:
            if message["type"] == "message":
                got.append(message["data"])
        return got

    @staticmethod
    def on_finish_args(payload: bytes) -> tuple[str, str | None]:
        """What the JS receiver hands ``onFinish``: it splits on every NUL (id, result)."""
        parts = payload.decode().split("\0")
        return parts[0], parts[1] if len(parts) > 1 else None
