"""Fixtures that run an object test module unchanged on the local cluster.

Synopsis (a ``tests/cluster/test_on_cluster_<suite>.py`` module)::

    from tests.cluster._suite import *  # noqa: F403 (the fixtures below)
    from tests.objects.test_feed import *  # noqa: F403 (the tests, collected again here)

``thoonk`` is a cluster-mode client, ``redis_url`` the cluster's URL, and
``sync_redis`` a redis-py cluster client that reads the stored state in the
cluster layout while the tests speak the standalone one: a key argument
``feed.ids:news`` is sent as ``feed.ids:{news}``, and ``KEYS`` (every
primary's, merged) names keys the standalone way; ``INFO`` sums the
primaries' counters (``blocked_clients``); ``CLIENT KILL`` goes to every
node. Tests that still fail here check what a cluster changes on purpose
(``DIFFERENT_ON_A_CLUSTER`` in conftest.py says which, and why).
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
        if name == "PUBSUB":  # every node's subscriptions
            replies = [
                self.get_redis_connection(node).execute_command(*args) for node in self.get_nodes()
            ]
            if str(args[1]).upper() == "NUMPAT":
                return max(int(r) for r in replies)  # one pattern on several nodes is one
            return sorted({c for r in replies for c in r})
        if name == "CLIENT KILL" or (name == "CLIENT" and str(args[1]).upper() == "KILL"):
            flat = ("CLIENT", "KILL", *args[1 if name == "CLIENT KILL" else 2 :])
            return sum(
                int(self.get_redis_connection(node).execute_command(*flat))
                for node in self.get_nodes()
            )
        return super().execute_command(*(_tag(a) for a in args), **kwargs)

    def pubsub_channels(self, pattern: Any = "*", **kwargs: Any) -> Any:
        return self.execute_command("PUBSUB", "CHANNELS", pattern)

    def delete(self, *names: Any) -> int:
        return sum(int(self.execute_command("DEL", n)) for n in names)

    def exists(self, *names: Any) -> int:
        return sum(int(self.execute_command("EXISTS", n)) for n in names)


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
