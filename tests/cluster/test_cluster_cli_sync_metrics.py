"""The CLI, the sync facade and the metrics exporter with a ``redis+cluster://`` URL.

``thoonk`` runs as a real subprocess (tests/cli/_cli.py); the stored state is
checked through a redis-py cluster client (an independent witness); the
exporter is scraped over HTTP and its figures compared with ``statistics()``.
"""

from __future__ import annotations

import contextlib
import json

import trio

from tests.cluster._local import LocalCluster
from thoonk_actors.metrics import open_metrics_exporter
from thoonk_actors.objects import open_thoonk
from thoonk_actors.sync import connect

from ..cli._cli import Follower, ok
from ..metrics._scrape import queue_values, scrape, stats_values, value

DEADLINE_S = 30
NAMES = ("mail", "images", "sms")  # their slots are on the three primaries


def test_names_spread_over_the_primaries() -> None:
    from redis.crc import key_slot

    thirds = {key_slot(f"{{{name}}}".encode()) * 3 // 16384 for name in NAMES}
    assert thirds == {0, 1, 2}


def test_cli_publish_get_finish_stats_on_a_cluster(
    cluster_url: str, local_cluster: LocalCluster
) -> None:
    for name in NAMES:
        assert ok("publish", "job", name, '{"to": "a"}', "--id", "j1", url=cluster_url) == "j1\n"
        assert ok("publish", "job", name, '"second"', "--id", "j2", url=cluster_url) == "j2\n"
        claim = json.loads(ok("get", name, "--json", url=cluster_url))
        assert (claim["id"], claim["item"]) == ("j1", {"to": "a"})
        ok("finish", name, "j1", '{"sent": true}', "--token", claim["token"], url=cluster_url)
    rows = json.loads(ok("stats", "--json", url=cluster_url))
    jobs = {row["name"]: row for row in rows if row["type"] == "job"}
    assert set(jobs) == set(NAMES)
    for name in NAMES:
        row = jobs[name]
        assert (row["registered"], row["available"], row["claimed"]) == (True, 1, 0)
        assert (row["publishes"], row["finishes"]) == (2, 1)
    with contextlib.closing(local_cluster.cluster_client()) as witness:
        assert witness.smembers("jobs") == {n.encode() for n in NAMES}
        for name in NAMES:
            assert witness.get(f"job.finishes:{{{name}}}") == b"1"
            assert witness.lrange(f"job.ids:{{{name}}}", 0, -1) == [b"j2"]


def test_cli_feed_tail_on_a_cluster(cluster_url: str) -> None:
    ok("publish", "feed", "news", '{"n": 1}', "--id", "a1", url=cluster_url)
    with Follower(["feed", "tail", "news", "--url", cluster_url]) as tail:
        assert tail.line() == 'item\ta1\t{"n":1}'
        ok("publish", "feed", "news", '"live"', "--id", "b", url=cluster_url)
        assert tail.line() == 'publish\tb\t"live"'
        ok("publish", "feed", "news", '{"n": 11}', "--id", "a1", url=cluster_url)
        assert tail.line() == 'edit\ta1\t{"n":11}'
        tail.sigint()
        assert tail.finish() == (0, [], [])


def test_sync_facade_on_a_cluster(cluster_url: str, local_cluster: LocalCluster) -> None:
    t = connect(cluster_url)
    try:
        for name in NAMES:
            jobs = t.job(name)
            job_id = jobs.publish({"n": name})
            claimed = jobs.get(timeout=5)
            assert claimed is not None and claimed.id == job_id
            jobs.finish(claimed, {"done": name})
            assert jobs.wait_result(job_id, timeout=5) == {"done": name}
            assert jobs.statistics().finishes == 1
        news = t.feed("news")
        news.publish({"n": 1}, id="a")
        news.publish({"n": 2}, id="b")
        assert news.items() == [("a", {"n": 1}), ("b", {"n": 2})]
        assert sorted(t.names("job")) == sorted(NAMES)
        assert "redis+cluster://" in repr(t)
    finally:
        t.close()
    with contextlib.closing(local_cluster.cluster_client()) as witness:
        assert witness.zcard("feed.ids:{news}") == 2
        for name in NAMES:
            assert witness.get(f"job.finishes:{{{name}}}") == b"1"


async def test_metrics_scrape_a_cluster_as_statistics_say(cluster_url: str) -> None:
    with trio.fail_after(DEADLINE_S):
        async with open_thoonk(cluster_url) as thoonk:
            for n, name in enumerate(NAMES):
                jobs = thoonk.job(name)
                for i in range(n + 2):
                    await jobs.publish(i)
                claimed = await jobs.get(timeout=5)
                assert claimed is not None
                await jobs.finish(claimed, "ok")
                claimed = await jobs.get(timeout=5)
                assert claimed is not None  # left claimed
            async with open_metrics_exporter(thoonk, port=0) as exporter:
                samples = await trio.to_thread.run_sync(scrape, exporter.url)
            assert value(samples, "thoonk_up") == 1
            assert value(samples, "thoonk_scrape_errors_total") == 0
            for n, name in enumerate(NAMES):
                stats = await thoonk.job(name).statistics()
                assert queue_values(samples, name) == stats_values(stats), name
                assert (stats.available, stats.claimed, stats.finishes) == (n, 1, 1)
                assert value(samples, "thoonk_job_registered", queue=name) == 1
