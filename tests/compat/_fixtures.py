"""Fixtures for tests that drive the original JS client's commands.

``js_job`` uses database 0, as the original does (it never sends SELECT), so its
tests skip on a shared server. ``js_job_here`` uses the test database
(``THOONK_TEST_DB``): the same command sequences after redis-py's SELECT, for
tests whose point is the sequences, so they also run against the external server.
"""

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


def _js_jobs(url: str) -> Iterator[Callable[..., JsJob]]:
    opened: list[JsJob] = []

    def make(name: str, *, clock_skew_ms: int = 0) -> JsJob:
        job = JsJob(url, name, clock_skew_ms=clock_skew_ms)
        opened.append(job)
        return job

    try:
        yield make
    finally:
        for job in opened:
            job.close()


@pytest.fixture
def js_job(redis_url_db0: str) -> Iterator[Callable[..., JsJob]]:
    """``js_job(name)``: an original JS ``Job`` object on database 0 (closed afterwards)."""
    yield from _js_jobs(redis_url_db0)


@pytest.fixture
def js_job_here(redis_url: str) -> Iterator[Callable[..., JsJob]]:
    """``js_job_here(name, clock_skew_ms=0)``: an original JS ``Job`` on the test database."""
    yield from _js_jobs(redis_url)
