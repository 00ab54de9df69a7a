"""The session's local Redis Cluster (3 primaries + 3 replicas), and a client on it.

Every test here is marked ``cluster`` (``-m "not cluster"`` leaves them out).
Which ``redis-server`` runs the cluster (:func:`cluster_binary`): the one the
embedded server uses (``THOONK_REDIS_SERVER``, pinned by tests/conftest.py to
the bundled 6.2), except when the run targets an external server
(``THOONK_TEST_REDIS_URL``, CI's pass 2 on Redis 7) and that pinned binary is
older than 7: then the newest binary found if it is >= 7 (``/usr/bin/redis-server``).
So CI's pass 1 covers Redis 6.2 (slot map from ``CLUSTER SLOTS``) and pass 2
Redis 7 (``CLUSTER SHARDS``). A binary without cluster support skips these
tests with the reason.

Which suites run here (test_suites_on_cluster.py keeps these lists true):
every module of tests/objects and tests/runtime is re-run by a
``test_on_cluster_*.py`` module, but those in :data:`NOT_ON_A_CLUSTER`; of
those in :data:`REDIS_TESTS_ONLY`, only the tests that use Redis; those in
:data:`BOUNDED` run smaller here, to keep CI's time (the cluster part of a
pass: about 80 s before the runtime's process tests came, about 30 s more
with them).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.cluster._local import ClusterUnavailable, LocalCluster
from thoonk_actors.embedded import (
    REDIS_SERVER_ENV,
    binary_version,
    choose_redis_server,
    find_redis_server,
)
from thoonk_actors.embedded._binary import version_tuple
from thoonk_actors.objects import Thoonk, open_thoonk

#: Modules of tests/objects and tests/runtime not re-run on the cluster, and why.
NOT_ON_A_CLUSTER = {
    "tests/objects/test_durable_publish.py": (
        "expects a server without replicas (every durable publish refused); with "
        "replicas: test_durable_on_cluster.py"
    ),
    "tests/runtime/test_units.py": "no Redis: backoff, mailbox, app loading on trio's clock",
    "tests/runtime/test_containment_units.py": "no Redis: the worker's pure pieces",
    "tests/runtime/test_worker_setup.py": (
        "a worker process's start-up hook: process and JSON plumbing; the worker "
        "processes' Redis use runs on the cluster in test_on_cluster_runtime_faults "
        "and _limits_processes"
    ),
    "tests/runtime/test_restart_backoff.py": (
        "no Redis: restart pauses on trio's clock, with stand-in runs and processes"
    ),
    "tests/runtime/test_child_signals.py": (
        "no Redis: a worker process interrupted before its app is loaded"
    ),
    "tests/runtime/test_child_startup.py": (
        "the worker child's own stop ordering while its app opens (trio scheduling in one "
        "process); the client it opens is the same on either server"
    ),
    "tests/runtime/test_idle_claim.py": (
        "the claim sent behind the wait is the standalone client's: on a cluster an idle "
        "worker keeps the two-step path (a cut wait is a read cut before its claim is "
        "sent), which the other runtime modules run here"
    ),
}

#: Modules of which only the tests that take a Redis fixture run here: the
#: others check pure logic (plain numbers, trio's autojump clock), nothing a
#: cluster changes.
REDIS_TESTS_ONLY = frozenset({"tests/runtime/test_prefetch.py", "tests/runtime/test_gcpause.py"})

#: Modules that run in a bounded form here (CI time), and how.
BOUNDED = {
    "tests/runtime/test_limits_processes.py": (
        "max_per_second is measured over 5 s (rate_window_s), not 10, with the same 5 % "
        "tolerance; max_concurrent unchanged"
    ),
}

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


#: Of those, the ones that can pass by timing (not strict): the per-node Gaps
#: may reach the actors before their first resync ran, and then make one.
MAY_PASS_BY_TIMING = frozenset(
    {"test_on_cluster_runtime_feeds.py::test_many_actors_share_one_pattern_subscription"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        nodeid = item.nodeid.replace("\\", "/")
        if "tests/cluster/" not in nodeid:
            continue
        item.add_marker(pytest.mark.cluster)
        name = nodeid.rpartition("/")[2]
        reason = DIFFERENT_ON_A_CLUSTER.get(name)
        if reason is not None:
            strict = name not in MAY_PASS_BY_TIMING
            item.add_marker(pytest.mark.xfail(reason=reason, strict=strict))


def newest_redis_server() -> str | None:
    """The newest ``redis-server`` found, ignoring the ``THOONK_REDIS_SERVER`` pin."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(REDIS_SERVER_ENV, raising=False)
        try:
            return choose_redis_server().path
        except Exception:
            return None


def is_redis_7(binary: str) -> bool:
    version = binary_version(binary)
    return version is not None and version_tuple(version) >= (7,)


def cluster_binary() -> str:
    """The ``redis-server`` of the local clusters (see the module docstring).

    Pass 1 (embedded server): the pinned binary (the bundled 6.2: ``CLUSTER
    SLOTS``). Pass 2 (``THOONK_TEST_REDIS_URL`` set, CI's Redis 7): a Redis >= 7
    binary (``CLUSTER SHARDS``): the pinned one if it is, else the newest found
    if it is, else the pinned one all the same.
    """
    pinned = str(find_redis_server())
    if not os.environ.get("THOONK_TEST_REDIS_URL") or is_redis_7(pinned):
        return pinned
    newest = newest_redis_server()
    return newest if newest is not None and is_redis_7(newest) else pinned


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    """A private cluster for the whole session, removed at the end (see cluster_binary)."""
    try:
        binary = cluster_binary()
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
