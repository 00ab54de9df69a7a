"""TLS on the cluster (issue 18.4): ``rediss+cluster://`` to every node, verified.

A private cluster of 3 primaries + 3 replicas whose nodes speak TLS with a
self-signed certificate made in the test (``openssl``, as in
tests/transport/test_tls.py): clients must present a certificate
(``tls-auth-clients yes``), the cluster bus and the replication links run over
TLS (``tls-cluster yes``, ``tls-replication yes``). Each node also keeps a
plaintext port, which the formation and the witness use, so the slot map
lists both ports and the client must pick the TLS one. Needs a redis-server
built with TLS (Debian's 7.0 is; the bundled 6.2 is not): skipped otherwise,
with the reason.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import trio
from redis.crc import key_slot

from tests.cluster._local import ClusterTLS, ClusterUnavailable, LocalCluster, supports_tls
from tests.cluster.conftest import cluster_binary, newest_redis_server
from thoonk_actors.objects import open_thoonk
from thoonk_actors.transport import ClusterClient, Message, ThoonkTLSError
from thoonk_actors.transport._cluster import (
    open_cluster,
    parse_cluster_url,
    slot_map_from_shards,
    slot_map_from_slots,
)
from thoonk_actors.transport._connection import Connection

from ..transport.test_tls import make_certificate

DEADLINE_S = 30


def tls_binary() -> str | None:
    """The cluster's binary if it has TLS, else the newest found if that one has."""
    candidates = [cluster_binary(), newest_redis_server()]
    return next((b for b in candidates if b is not None and supports_tls(b)), None)


def names_on_each_primary(cluster: LocalCluster) -> list[str]:
    """One object name whose slot is on each of the three primaries (thirds of the slots)."""
    names: dict[int, str] = {}
    i = 0
    while len(names) < 3:
        name = f"q{i}"
        names.setdefault(key_slot(f"{{{name}}}".encode()) * 3 // 16384, name)
        i += 1
    return [names[k] for k in sorted(names)]


def certificates(root: Path, *, plaintext: bool) -> ClusterTLS:
    """The nodes' certificate, a client certificate, and who trusts what."""
    (root / "server").mkdir()
    (root / "client").mkdir()
    cert, key = make_certificate(root / "server")
    client_cert, client_key = make_certificate(root / "client")
    trusted = root / "nodes-trust.pem"  # the nodes trust each other and the client
    trusted.write_text(cert.read_text() + client_cert.read_text())
    return ClusterTLS(
        cert=str(cert),
        key=str(key),
        ca=str(trusted),
        client_cert=str(client_cert),
        client_key=str(client_key),
        server_ca=str(cert),
        plaintext=plaintext,
    )


@contextlib.contextmanager
def started(root: Path, *, plaintext: bool) -> Iterator[LocalCluster]:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl to make the test's certificates")
    binary = tls_binary()
    if binary is None:
        pytest.skip("no redis-server built with TLS (--tls-port) was found")
    try:
        with LocalCluster.start(binary, tls=certificates(root, plaintext=plaintext)) as cluster:
            yield cluster
    except ClusterUnavailable as exc:
        pytest.skip(f"cannot start a local TLS Redis Cluster: {exc}")


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """TLS ports and plaintext ports (the formation and the witness use the latter)."""
    with started(tmp_path_factory.mktemp("tls"), plaintext=True) as cluster:
        yield cluster


@pytest.fixture
def tls_url(tls_cluster: LocalCluster) -> str:
    tls_cluster.flush()
    return tls_cluster.url


def test_the_nodes_run_the_bus_and_replication_over_tls(tls_cluster: LocalCluster) -> None:
    for port in tls_cluster.ports:
        with contextlib.closing(tls_cluster.client(port)) as node:
            config = node.config_get("tls-*")
            assert config["tls-cluster"] == "yes"
            assert config["tls-replication"] == "yes"
            assert config["tls-auth-clients"] == "yes"
    # Formed (cluster_state:ok, replicas' links up): the bus and replication work over TLS.
    tls_cluster.wait_ok()


async def test_the_slot_map_names_the_tls_ports(tls_cluster: LocalCluster, tls_url: str) -> None:
    tls_ports = set(tls_cluster.tls_ports[:3])
    with trio.fail_after(DEADLINE_S):
        async with open_cluster(tls_url) as client:
            assert {port for _, port in client.primaries()} == tls_ports
            assert client.where.startswith("rediss+cluster://")
            # What each reply says, asked over TLS: SHARDS lists both ports (the
            # client must take tls-port), SLOTS the TLS ones (tls-cluster yes).
            seed, _ = parse_cluster_url(tls_url)
            async with trio.open_nursery() as nursery:
                conn = await Connection.open(seed, nursery)
                try:
                    slots = await conn.execute("CLUSTER", "SLOTS")
                    assert set(slot_map_from_slots(slots, ("127.0.0.1", 0)).values()) == {
                        ("127.0.0.1", p) for p in tls_ports
                    }
                    try:
                        shards = await conn.execute("CLUSTER", "SHARDS")
                    except redis.exceptions.ResponseError:
                        shards = None  # Redis 6.2 (built with TLS): no CLUSTER SHARDS
                    if shards is not None:
                        asked = ("127.0.0.1", 0)
                        by_tls = slot_map_from_shards(shards, asked, tls=True)
                        plain = slot_map_from_shards(shards, asked, tls=False)
                        assert {p for _, p in by_tls.values()} == tls_ports
                        assert {p for _, p in plain.values()} == set(tls_cluster.ports[:3])
                finally:
                    await conn.aclose()
                nursery.cancel_scope.cancel()


async def test_objects_on_every_primary_over_tls(tls_cluster: LocalCluster, tls_url: str) -> None:
    names = names_on_each_primary(tls_cluster)
    with trio.fail_after(DEADLINE_S):
        async with open_thoonk(tls_url, worker_id="tls-worker") as thoonk:
            assert isinstance(thoonk.redis, ClusterClient)
            for name in names:
                jobs = thoonk.job(name)
                job_id = await jobs.publish({"n": name})
                claimed = await jobs.get(timeout=5)
                assert claimed is not None and claimed.id == job_id
                await jobs.finish(claimed, {"done": name})
                assert await jobs.wait_result(job_id, timeout=5) == {"done": name}
            news = thoonk.feed("news")
            async with thoonk.subscribe([news.channel("publish")]) as sub:
                await news.publish("hi", id="n1")
                message = await sub.receive()
            assert isinstance(message, Message) and message.data == b'n1\0"hi"'
            # Every node connection the client opened is TLS, to a TLS port.
            nodes = thoonk.redis._nodes
            assert {port for _, port in nodes} == set(tls_cluster.tls_ports[:3])
            assert all(node.config.tls for node in nodes.values())
    with contextlib.closing(tls_cluster.cluster_client()) as witness:
        for name in names:
            assert witness.get(f"job.finishes:{{{name}}}") == b"1"
        assert witness.zcard("feed.ids:{news}") == 1


async def test_a_wrong_ca_fails_at_once_saying_so(
    tls_cluster: LocalCluster, tmp_path: Path
) -> None:
    other, _ = make_certificate(tmp_path)  # a CA that did not sign the nodes' certificate
    url = tls_cluster.url.replace(f"ssl_ca_certs={tls_cluster.tls.server_ca}", "")  # type: ignore[union-attr]
    url = f"{url}&ssl_ca_certs={other}"
    with trio.fail_after(DEADLINE_S):
        # A long reconnect_timeout: were it retried, this would take 60 s.
        with pytest.raises(ThoonkTLSError, match="certificate verify failed") as caught:
            async with open_thoonk(url, reconnect_timeout=60):
                pass
    message = str(caught.value)
    assert "ssl_ca_certs" in message
    assert "start the server" not in message and "CLUSTER SHARDS" not in message


async def test_a_tls_only_cluster(tmp_path: Path) -> None:
    """No plaintext port at all (``port 0``): what a production TLS cluster runs."""
    with started(tmp_path, plaintext=False) as cluster:
        names = names_on_each_primary(cluster)
        tls_ports = set(cluster.tls_ports[:3])
        with trio.fail_after(DEADLINE_S):
            async with open_thoonk(cluster.url) as thoonk:
                assert isinstance(thoonk.redis, ClusterClient)
                assert {port for _, port in thoonk.redis.primaries()} == tls_ports
                for name in names:
                    jobs = thoonk.job(name)
                    job_id = await jobs.publish(name)
                    claimed = await jobs.get(timeout=5)
                    assert claimed is not None and claimed.id == job_id
                    await jobs.finish(claimed, "done")
                shards = None
                with contextlib.suppress(redis.exceptions.ResponseError):
                    shards = await thoonk.redis.execute("CLUSTER", "SHARDS")
        if shards is not None:  # Redis 7: a node lists its tls-port and no plaintext port
            for shard in shards:
                fields = dict(zip(shard[::2], shard[1::2], strict=True))
                for node in fields[b"nodes"]:
                    info = dict(zip(node[::2], node[1::2], strict=True))
                    assert b"port" not in info and int(info[b"tls-port"]) in cluster.tls_ports
        with contextlib.closing(cluster.cluster_client()) as witness:
            for name in names:
                assert witness.get(f"job.finishes:{{{name}}}") == b"1"
