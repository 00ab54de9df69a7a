"""Fixtures for tests that drive the original JS client's commands on database 0."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from .js_client import JsJob


@pytest.fixture
def witness(redis_url_db0: str) -> Iterator[redis.Redis]:
    """An independent redis-py client on database 0, to look at what is stored."""
    client = redis.Redis.from_url(redis_url_db0)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def js_job(redis_url_db0: str) -> Iterator[Callable[[str], JsJob]]:
    """``js_job(name)``: an original JS ``Job`` object on database 0 (closed afterwards)."""
    opened: list[JsJob] = []

    def make(name: str) -> JsJob:
        job = JsJob(redis_url_db0, name)
        opened.append(job)
        return job

    try:
        yield make
    finally:
        for job in opened:
            job.close()
