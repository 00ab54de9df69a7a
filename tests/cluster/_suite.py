"""Fixtures that run an object test module unchanged on the local cluster.

Synopsis (a ``tests/cluster/test_on_cluster_<suite>.py`` module)::

    from tests.cluster._suite import *  # noqa: F403 (the fixtures below)
    from tests.objects.test_feed import *  # noqa: F403 (the tests, collected again here)

``thoonk`` is a cluster-mode client, ``redis_url`` the cluster's URL, and
``sync_redis`` a redis-py *cluster* client. Tests that name keys in the
standalone layout (``feed.ids:news`` rather than ``feed.ids:{news}``) fail
here by design: they check the standalone layout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from tests.cluster._local import LocalCluster
from thoonk_actors.objects import Thoonk, open_thoonk

__all__ = ["redis_url", "sync_redis", "thoonk"]


@pytest.fixture
def redis_url(cluster_url: str) -> str:
    return cluster_url


@pytest.fixture
def sync_redis(local_cluster: LocalCluster, cluster_url: str) -> Iterator[redis.RedisCluster]:
    client = local_cluster.cluster_client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
async def thoonk(cluster_url: str) -> AsyncIterator[Thoonk]:
    async with open_thoonk(cluster_url, worker_id="test-worker") as client:
        yield client
