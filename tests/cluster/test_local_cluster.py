"""The local cluster fixture itself: formed, every slot served, replicas attached."""

from __future__ import annotations

import contextlib

from tests.cluster._local import SLOTS, LocalCluster


def test_the_local_cluster_serves_every_slot(local_cluster: LocalCluster) -> None:
    with contextlib.closing(local_cluster.client(local_cluster.ports[0])) as c:
        info = c.execute_command("CLUSTER", "INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        assert "cluster_state:ok" in text
        assert f"cluster_slots_assigned:{SLOTS}" in text
        assert "cluster_known_nodes:6" in text
        assert "cluster_size:3" in text
    roles = []
    for port in local_cluster.ports:
        with contextlib.closing(local_cluster.client(port)) as c:
            roles.append(c.info("replication")["role"])
    assert sorted(roles) == ["master"] * 3 + ["slave"] * 3


def test_a_witness_client_reads_what_it_writes(local_cluster: LocalCluster) -> None:
    local_cluster.flush()
    with contextlib.closing(local_cluster.cluster_client()) as rc:
        for i in range(20):
            rc.set(f"k{i}", i)
        assert [int(rc.get(f"k{i}")) for i in range(20)] == list(range(20))
