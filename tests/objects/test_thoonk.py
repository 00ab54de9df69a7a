"""What the client itself offers the layers above, so they never touch its transport client.

``where`` (for messages), the timeout rule of blocking reads, and
``open_derived`` (the sync facade's workers: one connection, a worker id per run).
"""

from __future__ import annotations

import math
import uuid

import pytest
import trio

from thoonk_actors.contract import RawCodec
from thoonk_actors.objects import Thoonk, open_thoonk

from ..polling import wait_until


async def test_where_is_the_server_the_client_talks_to(redis_url: str) -> None:
    async with open_thoonk(redis_url, client_name="where-test") as thoonk:
        assert thoonk.where == thoonk.redis.where
        assert thoonk.where.startswith(redis_url.split("?")[0].split("://")[0] + "://")


@pytest.mark.parametrize(
    ("wanted", "seconds"),
    [(3.0, 3.0), (0.0, 0.001), (-1.0, 0.001), (100.0, 5.0), (math.inf, 5.0)],
)
async def test_a_blocking_read_waits_at_most_half_the_health_timeout(
    redis_url: str, wanted: float, seconds: float
) -> None:
    async with open_thoonk(redis_url, health_timeout=10.0) as thoonk:
        assert thoonk.block_timeout(wanted) == seconds
        assert thoonk.block_margin == 5.0


async def test_without_a_health_timeout_a_blocking_read_may_wait_for_ever(redis_url: str) -> None:
    async with open_thoonk(redis_url, health_timeout=None) as thoonk:
        assert thoonk.block_timeout(100.0) == 100.0
        assert thoonk.block_timeout(math.inf) == 0  # BLMOVE's "for ever"
        assert thoonk.block_margin == 0


async def _connections(thoonk: Thoonk, name: str) -> list[str]:
    """This test's connections in CLIENT LIST (the server may serve other tests)."""
    listing = (await thoonk.execute("CLIENT", "LIST")).decode()
    return [line for line in listing.splitlines() if f" name={name} " in f" {line} "]


def _ids(connections: list[str]) -> set[str]:
    return {line.split()[0] for line in connections}  # "id=7"


async def test_a_derived_client_shares_the_connection_under_its_own_worker_id(
    redis_url: str,
) -> None:
    name = f"derive-{uuid.uuid4().hex[:8]}"
    async with open_thoonk(redis_url, worker_id="base", client_name=name) as thoonk:
        thoonk.result_codecs["raw"] = RawCodec(text=True)
        before = await _connections(thoonk, name)
        async with thoonk.open_derived() as fresh, thoonk.open_derived(worker_id="w2") as named:
            assert (fresh.worker_id, named.worker_id) == (fresh.worker_id, "w2")
            assert fresh.worker_id not in ("base", "w2")
            assert (fresh.url, fresh.cluster, fresh.codec) == (
                thoonk.url, thoonk.cluster, thoonk.codec
            )  # fmt: skip
            # The result codecs are copied: changing the derived client's leaves the base's.
            assert fresh.result_codecs == thoonk.result_codecs
            fresh.result_codecs["other"] = RawCodec()
            assert "other" not in thoonk.result_codecs
            await fresh.feed("news").publish({"n": 1})
            assert await _connections(thoonk, name) == before  # no connection of its own
            async with fresh.subscribe(["derive-test"]):  # its own pub/sub connection
                subscribed = [c for c in await _connections(thoonk, name) if " sub=1 " in c]
                assert len(subscribed) == 1

        async def only_the_first_left() -> bool:
            return _ids(await _connections(thoonk, name)) == _ids(before)

        await wait_until(only_the_first_left, what="the derived client's pub/sub to close")
        # The base client is still connected, and its own pub/sub still opens.
        assert await thoonk.feed("news").length() == 1
        with trio.fail_after(5):
            async with thoonk.subscribe(["derive-test"]):
                pass
