"""Fixtures of the contract tests that use Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from ._redis import Events, raw_client


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    """A raw RESP2 client on the (emptied) test database."""
    client = raw_client(redis_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def events(r: redis.Redis) -> Iterator[Events]:
    collector = Events(r)
    try:
        yield collector
    finally:
        collector.pubsub.close()
