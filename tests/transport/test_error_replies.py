"""Every error reply becomes a ThoonkError subclass that is also redis-py's class.

The table is checked offline (hiredis' own ReplyError objects); the cases
another client can cause are checked against the real server.
"""

from __future__ import annotations

import hiredis
import pytest
import redis
import redis.exceptions

from thoonk_actors import ServerError, ThoonkError, UsageError, WrongTypeError, open_thoonk
from thoonk_actors.transport import ThoonkLoadingError, ThoonkResponseError, open_redis
from thoonk_actors.transport._protocol import error_from_reply

CASES = [
    ("WRONGTYPE Operation against a key", WrongTypeError, redis.exceptions.ResponseError),
    ("OOM command not allowed", ServerError, redis.exceptions.OutOfMemoryError),
    ("READONLY You can't write against a read only replica.", ServerError,
     redis.exceptions.ReadOnlyError),
    ("NOPERM this user has no permissions", ServerError, redis.exceptions.NoPermissionError),
    ("LOADING Redis is loading the dataset in memory", ThoonkLoadingError,
     redis.exceptions.BusyLoadingError),
    ("BUSY Redis is busy running a script.", ServerError, redis.exceptions.ResponseError),
    ("NOSCRIPT No matching script.", ServerError, redis.exceptions.NoScriptError),
    ("EXECABORT Transaction discarded", ServerError, redis.exceptions.ExecAbortError),
    ("MASTERDOWN Link with MASTER is down", ServerError, redis.exceptions.MasterDownError),
    ("ERR unknown command 'NOPE'", ThoonkResponseError, redis.exceptions.ResponseError),
    # Redis 6.2 wraps an error raised by a script's redis.call in ERR.
    ("ERR Error running script (call to f_1): @user_script:1: WRONGTYPE Operation against",
     WrongTypeError, redis.exceptions.ResponseError),
    ("ERR Error running script (call to f_1): @user_script:1: user_script:1: boom",
     ThoonkResponseError, redis.exceptions.ResponseError),
    ("NOAUTH Authentication required.", ThoonkError, redis.exceptions.AuthenticationError),
    # An ACL refusal met inside a script is a plain ERR (7) or a wrapped one (6.2).
    ("ERR The user executing the script can't publish to the channel mentioned in the "
     "command script: 2531, on @user_script:1.", ServerError, redis.exceptions.NoPermissionError),
    ("ERR Error running script (call to f_1): @user_script:1: @user_script: 1: The user "
     "executing the script can't run this command or subcommand", ServerError,
     redis.exceptions.NoPermissionError),
]  # fmt: skip


@pytest.mark.parametrize(("text", "ours", "theirs"), CASES)
def test_every_error_reply_is_a_thoonk_error_and_a_redis_py_error(
    text: str, ours: type[Exception], theirs: type[Exception]
) -> None:
    error = error_from_reply(hiredis.ReplyError(text), "unix:///x.sock")
    assert isinstance(error, ThoonkError)
    assert isinstance(error, ours)
    assert isinstance(error, theirs)
    assert text.split(" ")[0] in str(error)  # the server's own words are kept


def test_redirects_keep_redis_py_parsing() -> None:
    error = error_from_reply(hiredis.ReplyError("MOVED 3999 127.0.0.1:6381"), "x")
    assert isinstance(error, ServerError)
    assert isinstance(error, redis.exceptions.MovedError)
    assert (error.slot_id, error.host, error.port) == (3999, "127.0.0.1", 6381)


async def test_script_errors_from_the_real_server_are_typed(redis_url: str) -> None:
    async with open_redis(redis_url) as client:
        await client.execute("SET", "k", "v")
        with pytest.raises(WrongTypeError, match="WRONGTYPE"):
            await client.execute("EVAL", "return redis.call('LPUSH', KEYS[1], 'x')", 1, "k")
        with pytest.raises(ThoonkResponseError, match="boom"):
            await client.execute("EVAL", "error('boom')", 0)


async def test_wait_for_work_on_a_key_planted_by_another_client_is_a_wrong_type_error(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    sync_redis.set("job.ids:q", "someone else's string")
    async with open_thoonk(redis_url) as thoonk:
        with pytest.raises(WrongTypeError, match="WRONGTYPE"):
            await thoonk.job("q").wait_for_work()
    assert sync_redis.get("job.ids:q") == b"someone else's string"


async def test_create_with_a_config_that_is_not_a_dict_is_a_usage_error(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    async with open_thoonk(redis_url) as thoonk:
        with pytest.raises(UsageError, match="dict of settings"):
            await thoonk.job("q").create([("timeout", 5)])  # type: ignore[arg-type]
    assert sync_redis.keys("*") == []
