"""The least-privilege ACL line of docs/security.md, on a cluster (issue 18.4).

A cluster keeps its ACL users per node (``ACL SETUSER`` is not replicated nor
spread by the bus), so the user is set on every primary and every replica (a
replica promoted by a failover must know it too). The line is read from the
page itself, with the cluster addition the page gives; as that user the main
flows run on the local cluster (jobs with results, feeds, sorted feeds,
queues, pub/sub events, an App with a job worker and a feed actor, the CLI),
and FLUSHALL, KEYS and the like are refused on every node.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator

import pytest
import redis
import trio
from redis.crc import key_slot

from tests.cluster._local import HOST, LocalCluster
from thoonk_actors.objects import open_thoonk
from thoonk_actors.transport import ThoonkAuthenticationError, ThoonkNoPermissionError

from ..cli._cli import thoonk
from ..security.test_acl import DOC, REFUSED, acl_setuser, assert_refused, run_main_flows
from .test_cluster_transport import (
    another_primary,
    finish_migration,
    migrating,
    move_slot,
    owner_port,
)

USER, PASSWORD = "thoonk_least", "least-Privilege-pw"
DEADLINE = 60
#: Cluster administration the user may not do, besides the standalone REFUSED.
CLUSTER_REFUSED = (
    ("CLUSTER", "RESET"),
    ("CLUSTER", "FAILOVER"),
    ("CLUSTER", "FORGET", "x" * 40),
    ("CLUSTER", "SETSLOT", "0", "STABLE"),
)


def documented_cluster_rules() -> list[str]:
    """The rules docs/security.md adds to the line for a cluster."""
    text = DOC.read_text()
    block = text.split("<!-- acl-cluster -->", 1)[1].split("`", 2)[1]
    return shlex.split(block.strip())


def set_user_everywhere(cluster: LocalCluster, words: list[str]) -> None:
    for port in cluster.ports:
        with contextlib.closing(cluster.client(port)) as node:
            node.execute_command(*words)


def user_url(cluster: LocalCluster) -> str:
    return cluster.url.replace("redis+cluster://", f"redis+cluster://{USER}:{PASSWORD}@", 1)


@pytest.fixture
def least_cluster_url(cluster_url: str, local_cluster: LocalCluster) -> Iterator[str]:
    set_user_everywhere(local_cluster, [*acl_setuser(USER, PASSWORD), *documented_cluster_rules()])
    try:
        yield user_url(local_cluster)
    finally:
        set_user_everywhere(local_cluster, ["ACL", "DELUSER", USER])


def test_main_flows_run_as_the_documented_acl_user_on_a_cluster(
    least_cluster_url: str, local_cluster: LocalCluster
) -> None:
    url = least_cluster_url
    run_main_flows(url, ("mail", "images", "sms"))  # a queue on each primary
    done = thoonk("stats", url=url)
    assert done.returncode == 0, done
    assert "mail" in done.stdout

    # What the user may not do, on any node.
    with contextlib.closing(local_cluster.cluster_client()) as admin:
        admin.set("other-app:data", "keep")
    for port in local_cluster.ports:
        as_user = redis.Redis(HOST, port, username=USER, password=PASSWORD, socket_timeout=10)
        try:
            assert_refused(as_user, (*REFUSED, *CLUSTER_REFUSED))
        finally:
            as_user.close()
    with contextlib.closing(local_cluster.cluster_client()) as admin:
        assert admin.get("other-app:data") == b"keep"


async def test_without_the_cluster_rules_the_map_is_refused_saying_what_to_add(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    set_user_everywhere(local_cluster, acl_setuser(USER, PASSWORD))  # the standalone line only
    try:
        with trio.fail_after(DEADLINE):
            with pytest.raises(ThoonkNoPermissionError, match=r"\+cluster\|slots"):
                async with open_thoonk(user_url(local_cluster), reconnect_timeout=60):
                    pass
    finally:
        set_user_everywhere(local_cluster, ["ACL", "DELUSER", USER])


async def test_a_job_in_a_migrating_slot_follows_ask_as_that_user(
    least_cluster_url: str, local_cluster: LocalCluster
) -> None:
    # Every key of the queue moved to the importing node, the slot still
    # MIGRATING: the source answers ASK, the client sends ASKING + EVAL there.
    slot = key_slot(b"{moving}")
    source = owner_port(local_cluster, slot)
    target = another_primary(local_cluster, source)
    try:
        with trio.fail_after(DEADLINE):
            async with open_thoonk(least_cluster_url) as t:
                jobs = t.job("moving")
                first = await jobs.publish("before")
                with migrating(local_cluster, slot, source, target):
                    with contextlib.closing(local_cluster.client(source)) as src:
                        keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
                        src.execute_command("MIGRATE", HOST, target, "", 0, 5000, "KEYS", *keys)
                    redirects = t.redis.redirects  # type: ignore[union-attr]
                    second = await jobs.publish("during")
                    assert t.redis.redirects > redirects  # type: ignore[union-attr]
                    assert await jobs.available_ids() == (first, second)
    finally:
        finish_migration(local_cluster, slot, source, target)
        move_slot(local_cluster, slot, target, source)


async def test_a_wrong_password_fails_at_once_as_on_a_standalone_server(
    least_cluster_url: str,
) -> None:
    wrong = least_cluster_url.replace(f":{PASSWORD}@", ":not-the-password@", 1)
    with trio.fail_after(DEADLINE):
        with pytest.raises(ThoonkAuthenticationError, match="refused authentication") as caught:
            async with open_thoonk(wrong, reconnect_timeout=60):
                pass
    assert "CLUSTER SHARDS" not in str(caught.value)
    assert "not-the-password" not in str(caught.value)
