"""Which Redis the local cluster runs in each CI pass (see tests/cluster/conftest.py).

Pass 1 (embedded server): the pinned binary, the bundled 6.2, whose slot map
comes from ``CLUSTER SLOTS``. Pass 2 (``THOONK_TEST_REDIS_URL``, CI's Redis 7):
a Redis >= 7 when one is installed, whose map comes from ``CLUSTER SHARDS``.
"""

from __future__ import annotations

import contextlib
import os

import trio

from tests.cluster._local import LocalCluster
from tests.cluster.conftest import is_redis_7, newest_redis_server
from thoonk_actors.embedded import binary_version, find_redis_server
from thoonk_actors.embedded._binary import version_tuple
from thoonk_actors.transport._cluster import open_cluster


def map_commands(cluster: LocalCluster) -> dict[str, int]:
    """How many CLUSTER SHARDS / SLOTS the nodes served so far."""
    calls = {"shards": 0, "slots": 0}
    for port in cluster.ports:
        with contextlib.closing(cluster.client(port)) as node:
            stats = node.info("commandstats")
        for which in calls:
            # 7.0 counts subcommands apart ("cluster|shards"); 6.2 only "cluster".
            calls[which] += int(stats.get(f"cmdstat_cluster|{which}", {}).get("calls", 0))
    return calls


async def test_the_cluster_runs_the_redis_of_this_pass(local_cluster: LocalCluster) -> None:
    version = binary_version(local_cluster.binary)
    assert version is not None
    newest = newest_redis_server()
    if os.environ.get("THOONK_TEST_REDIS_URL") and newest is not None and is_redis_7(newest):
        assert version_tuple(version) >= (7,), local_cluster.binary
    else:
        assert local_cluster.binary == str(find_redis_server())
    with contextlib.closing(local_cluster.client(local_cluster.ports[0])) as node:
        assert node.info("server")["redis_version"] == version
    before = map_commands(local_cluster)
    with trio.fail_after(20):
        async with open_cluster(local_cluster.url) as client:
            assert len(client.primaries()) == 3
    after = map_commands(local_cluster)
    if version_tuple(version) >= (7,):
        assert after["shards"] > before["shards"]
        assert after["slots"] == before["slots"]
