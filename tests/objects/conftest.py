"""Shared by the object tests: a connected client on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from thoonk_actors.objects import Thoonk, open_thoonk


@pytest.fixture
async def thoonk(redis_url: str) -> AsyncIterator[Thoonk]:
    async with open_thoonk(redis_url, worker_id="test-worker") as client:
        yield client
