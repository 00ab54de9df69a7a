"""The keyword options of open_redis / open_cluster / open_thoonk / connect.

They are typed (``RedisOptions``, ``ThoonkOptions``) so that mypy and editors
know them; these tests keep the TypedDicts equal to what the functions accept,
and check that an unknown name still fails at run time, with a typed error that
names the close matches, before anything is opened or started.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from thoonk_actors import UsageError
from thoonk_actors.objects import ThoonkOptions, open_thoonk
from thoonk_actors.sync import connect
from thoonk_actors.transport import RedisConfig, RedisOptions, open_cluster, open_redis

#: Nothing listens there: an opener that got past the option check would fail to connect.
NOWHERE = "redis://127.0.0.1:1/0"


def test_redis_options_are_the_config_fields() -> None:
    assert set(RedisOptions.__annotations__) == {f.name for f in dataclasses.fields(RedisConfig)}
    assert RedisOptions.__required_keys__ == frozenset()


def test_thoonk_options_are_open_thoonks_keywords_and_the_redis_options() -> None:
    own = {
        name
        for name, p in inspect.signature(open_thoonk).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert own == {"cluster", "codec", "worker_id", "result_codecs"}
    assert set(ThoonkOptions.__optional_keys__) == own | set(RedisOptions.__annotations__)
    assert ThoonkOptions.__required_keys__ == frozenset()


def test_an_unknown_option_names_the_close_matches() -> None:
    with pytest.raises(UsageError) as info:
        RedisConfig.from_url(NOWHERE, respones_timeout=3)  # type: ignore[call-arg]
    message = str(info.value)
    assert message.startswith("unknown Redis option 'respones_timeout' (did you mean ")
    assert "response_timeout" in message and "the options are: client_name, " in message
    with pytest.raises(UsageError, match=r"unknown Redis options 'bogus', 'dbb' \(did you mean db"):
        RedisConfig().replace(bogus=1, dbb=2)  # type: ignore[call-arg]


def test_a_known_option_is_applied() -> None:
    config = RedisConfig.from_url(NOWHERE, response_timeout=3, client_name="w1")
    assert (config.response_timeout, config.client_name) == (3, "w1")
    assert config.replace(db=2).db == 2


_OPENERS: dict[str, Callable[..., AbstractAsyncContextManager[Any]]] = {
    "open_redis(url)": lambda **kw: open_redis(NOWHERE, **kw),
    "open_redis(config)": lambda **kw: open_redis(RedisConfig(port=1), **kw),
    "open_cluster(config)": lambda **kw: open_cluster(RedisConfig(port=1), **kw),
    "open_thoonk(url)": lambda **kw: open_thoonk(NOWHERE, **kw),
}


@pytest.mark.parametrize("opener", list(_OPENERS), ids=list(_OPENERS))
async def test_openers_refuse_an_unknown_option_before_connecting(opener: str) -> None:
    with pytest.raises(UsageError, match="unknown Redis option 'respones_timeout'"):
        async with _OPENERS[opener](respones_timeout=3):
            pytest.fail("opened despite an unknown option")


def test_connect_refuses_an_unknown_option() -> None:
    with pytest.raises(UsageError, match=r"unknown Redis option 'clinet_name' \(did you mean"):
        connect(NOWHERE, clinet_name="x")  # type: ignore[call-arg]


async def test_open_thoonk_client_name_none_keeps_the_urls(redis_url: str) -> None:
    url = redis_url + ("&" if "?" in redis_url else "?") + "client_name=from-url"
    async with open_thoonk(url, client_name=None) as thoonk:
        assert await thoonk.redis.execute("CLIENT", "GETNAME") == b"from-url"
    async with open_thoonk(url, client_name="from-options") as thoonk:
        assert await thoonk.redis.execute("CLIENT", "GETNAME") == b"from-options"
