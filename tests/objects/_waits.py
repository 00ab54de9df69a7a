"""Waiting for queue gets to be in line (shared by the queue tests)."""

from __future__ import annotations

import redis

from thoonk_actors.contract import QueueKeys
from thoonk_actors.objects import Thoonk
from thoonk_actors.objects._queue_waits import waiting

from ..polling import wait_until


async def in_line(thoonk: Thoonk, sync_redis: redis.Redis, n: int, *, name: str = "tasks") -> None:
    """Wait until ``n`` gets of ``thoonk`` wait on queue ``name``, behind one blocked BLMOVE."""
    keys = QueueKeys.of(name)
    await wait_until(
        lambda: (
            waiting(thoonk, keys) == n and int(sync_redis.info("clients")["blocked_clients"]) == 1
        ),
        what=f"{n} gets in line behind one BLMOVE",
    )
