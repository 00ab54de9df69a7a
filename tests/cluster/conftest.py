"""The session's local Redis Cluster (3 primaries + 3 replicas), and a client on it.

Every test here is marked ``cluster`` (``-m "not cluster"`` leaves them out).
The cluster is started from the same ``redis-server`` the embedded server uses
(``THOONK_REDIS_SERVER`` picks another one, e.g. a Redis 7 for ``CLUSTER SHARDS``);
a binary without cluster support skips these tests with the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.cluster._local import ClusterUnavailable, LocalCluster
from thoonk_actors.embedded import find_redis_server
from thoonk_actors.objects import Thoonk, open_thoonk


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    """A private cluster for the whole session, removed at the end."""
    try:
        binary = str(find_redis_server())
    except Exception as exc:
        pytest.skip(f"no redis-server to start a local cluster with: {exc}")
    try:
        with LocalCluster.start(binary) as cluster:
            yield cluster
    except ClusterUnavailable as exc:
        pytest.skip(f"cannot start a local Redis Cluster: {exc}")


@pytest.fixture
def cluster_url(local_cluster: LocalCluster) -> str:
    """The cluster's ``redis+cluster://`` URL, every primary emptied before the test."""
    local_cluster.flush()
    return local_cluster.url


@pytest.fixture
async def cthoonk(cluster_url: str) -> AsyncIterator[Thoonk]:
    """A thoonk client in cluster mode."""
    async with open_thoonk(cluster_url, worker_id="test-worker") as client:
        yield client
