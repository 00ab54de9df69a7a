"""Fixtures that run an object test module unchanged on the local cluster.

Synopsis (a ``tests/cluster/test_on_cluster_<suite>.py`` module)::

    from tests.cluster._suite import *  # noqa: F403 (the fixtures below)
    from tests.objects.test_feed import *  # noqa: F403 (the tests, collected again here)

``thoonk`` is a cluster-mode client, ``redis_url`` the cluster's URL, and
``sync_redis`` a redis-py cluster client that reads the stored state in the
cluster layout while the tests speak the standalone one: a key argument
``feed.ids:news`` is sent as ``feed.ids:{news}``, and ``KEYS`` (every
primary's, merged) names keys the standalone way; ``INFO`` sums the
primaries' counters (``blocked_clients``). Tests that still fail here check
what a cluster changes on purpose (see docs/operations.md).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from tests.cluster._local import LocalCluster
from thoonk_actors.objects import Thoonk, open_thoonk

__all__ = ["redis_url", "sync_redis", "thoonk"]


@pytest.fixture
def redis_url(cluster_url: str) -> str:
    return cluster_url


_KEY = re.compile(rb"^((?:job|feed|sorted_feed|queue)\.[a-z_]+):([^{}]+)$")
_TAGGED = re.compile(rb"^((?:job|feed|sorted_feed|queue)\.[a-z_]+):\{([^{}]+)\}$")


def _tag(arg: Any) -> Any:
    raw = arg.encode() if isinstance(arg, str) else arg
    if isinstance(raw, bytes) and (m := _KEY.match(raw)):
        return b"%s:{%s}" % (m[1], m[2])
    return arg


def _untag(key: bytes) -> bytes:
    m = _TAGGED.match(key)
    return b"%s:%s" % (m[1], m[2]) if m else key


class Witness(redis.RedisCluster):
    """The stored state of the cluster, seen through the standalone layout."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        name = str(args[0]).upper() if args else ""
        if name == "KEYS":
            keys: list[bytes] = []
            for node in self.get_primaries():
                keys += self.get_redis_connection(node).keys(*args[1:])
            return [_untag(k) for k in keys]
        if name == "INFO":
            merged: dict[str, Any] = {}
            for node in self.get_primaries():
                for field, value in self.get_redis_connection(node).info(*args[1:]).items():
                    if isinstance(value, int) and isinstance(merged.get(field, 0), int):
                        merged[field] = merged.get(field, 0) + value
                    else:
                        merged.setdefault(field, value)
            return merged
        return super().execute_command(*(_tag(a) for a in args), **kwargs)


@pytest.fixture
def sync_redis(local_cluster: LocalCluster, cluster_url: str) -> Iterator[redis.RedisCluster]:
    client = Witness("127.0.0.1", local_cluster.ports[0], socket_timeout=10)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
async def thoonk(cluster_url: str) -> AsyncIterator[Thoonk]:
    async with open_thoonk(cluster_url, worker_id="test-worker") as client:
        yield client
