"""A redis-py client for a thoonk URL, standalone or cluster: what the worker apps of the
process tests use to record their own plain keys (``started``, ``claims:<queue>``).

Synopsis::

    shared_client(os.environ["THOONK_REDIS_URL"]).sadd("started", job_id)

redis-py does not read ``redis+cluster://`` URLs (they are thoonk's): a
cluster URL becomes a ``RedisCluster`` on its first seed (it discovers the
others), so the same test and the same worker app run on a standalone server
and on the local cluster (tests/cluster). One client per process and URL:
a ``RedisCluster`` reads the slot map and the command table when it is made,
too much to do for every job; redis-py clients are thread-safe.
"""

from __future__ import annotations

import functools
import urllib.parse

import redis

CLUSTER_SCHEME = "redis+cluster"


def client_for(url: str) -> redis.Redis | redis.RedisCluster:
    """``redis.Redis.from_url(url)``, or a ``RedisCluster`` for a ``redis+cluster://`` URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != CLUSTER_SCHEME:
        return redis.Redis.from_url(url)
    seed = parts.netloc.rpartition("@")[2].split(",")[0]
    host, _, port = seed.rpartition(":")
    return redis.RedisCluster(
        host=host,
        port=int(port),
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
    )


@functools.cache
def shared_client(url: str) -> redis.Redis | redis.RedisCluster:
    """This process's client of ``url`` (made on first use, closed when the process ends)."""
    return client_for(url)
