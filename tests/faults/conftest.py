"""Shared by the containment tests: a connected client, and how to plant poison jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis

from thoonk_actors.contract import JobKeys
from thoonk_actors.objects import Thoonk, open_thoonk

#: A JSON array nested deeper than Python's decoder can follow.
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
async def thoonk(redis_url: str) -> AsyncIterator[Thoonk]:
    async with open_thoonk(redis_url, worker_id="test-worker") as client:
        yield client


def plant(client: redis.Redis, queue: str, job_id: str, raw: bytes) -> None:
    """What another client may legally write: an id and a raw item, queued like a publish."""
    keys = JobKeys.of(queue)
    client.hset(keys.items, job_id, raw)
    client.zadd(keys.published, {job_id: 1})
    client.lpush(keys.ids, job_id)
