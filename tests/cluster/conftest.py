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

#: Object tests (re-run here by test_on_cluster_*.py) that check what a cluster
#: changes on purpose: expected to fail (strict: one that starts passing is reported).
DIFFERENT_ON_A_CLUSTER = {
    "test_on_cluster_feed.py::test_a_key_of_another_type_is_refused_and_kept[feeds]": (
        "the registry set is updated after the script (another slot): a registry of "
        "another type is refused only after the feed was written"
    ),
    "test_on_cluster_queue.py::test_a_key_of_another_type_is_refused_and_kept[queues]": (
        "the registry set is updated after the script (another slot)"
    ),
    "test_on_cluster_feed.py::test_events_default_to_the_feed_events_plus_lifecycle": (
        "compares the object's keys with the standalone names"
    ),
    "test_on_cluster_job.py::test_wrong_key_type_left_by_someone_else": (
        "the error names the hash-tagged key (job.ids:{broken})"
    ),
    "test_on_cluster_limits.py::"
    "test_an_original_style_claim_is_not_limited_but_counts_as_claimed": (
        "the original JS client (tests/compat) needs a standalone redis:// URL"
    ),
    "test_on_cluster_runtime_feeds.py::test_many_actors_share_one_pattern_subscription": (
        "a pattern is subscribed on every primary; CLIENT KILL on every node makes each "
        "connection report its own Gap, so actors resync once per node, not once"
    ),
    **{
        f"test_on_cluster_registry.py::test_cluster_key_names_on_a_standalone_server[{kind}]": (
            "checks hash-tagged names, which the witness shows in the standalone layout"
        )
        for kind in ("feed", "sorted_feed", "queue")
    },
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        nodeid = item.nodeid.replace("\\", "/")
        if "tests/cluster/" not in nodeid:
            continue
        item.add_marker(pytest.mark.cluster)
        reason = DIFFERENT_ON_A_CLUSTER.get(nodeid.rpartition("/")[2])
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))


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
