"""A subscription's buffer on its own (no Redis): overflow, gaps, close, one reader.

Testing policy: the subscription is fed the way the connection's reader
feeds it (``_deliver``), so these are the rules of the package's one
drop-and-mark buffer (``thoonk_actors._overflow``) as a subscriber sees them;
``tests/transport/test_pubsub.py`` runs them against Redis.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from thoonk_actors.transport import Gap, Message, Subscription


def message(n: int, size: int = 1) -> Message:
    return Message(b"chan", str(n).encode().ljust(size, b"."))


async def test_a_second_receiver_gets_busy_resource_error_and_the_first_keeps_waiting() -> None:
    sub = Subscription(4)
    got: list[Message | Gap] = []

    async def first() -> None:
        got.append(await sub.receive())

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(first)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BusyResourceError, match="one consumer"):
                await sub.receive()
            sub._deliver(message(0))
    assert got == [message(0)]


async def test_close_wakes_the_waiting_reader_and_ends_the_iteration() -> None:
    sub = Subscription(4)
    got: list[Message | Gap] = []

    async def reader() -> None:
        async for event in sub:
            got.append(event)

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            sub._deliver(message(0))  # queued: the reader has not run yet
            await trio.testing.wait_all_tasks_blocked()  # it took it and waits again
            sub.close()
    assert got == [message(0)]
    with pytest.raises(trio.EndOfChannel):
        sub.receive_nowait()


async def test_overflow_drops_until_drained_then_one_gap_that_absorbs_a_reconnect() -> None:
    sub = Subscription(2)
    for n in range(4):
        sub._deliver(message(n))
    sub._deliver(Gap("reconnected"))  # a marker is owed already: folded into it
    sub._deliver(message(4))
    with trio.fail_after(1):
        assert [await sub.receive() for _ in range(3)] == [
            message(0), message(1), Gap("overflow"),
        ]  # fmt: skip
    sub._deliver(message(5))  # after the gap, nothing is dropped
    assert sub.receive_nowait() == message(5)
    stats = sub.statistics()
    assert (stats.delivered, stats.dropped, stats.gaps, stats.buffered) == (3, 3, 1, 0)
    with pytest.raises(trio.WouldBlock):
        sub.receive_nowait()


async def test_a_gap_is_queued_in_order_and_the_byte_budget_bounds_messages() -> None:
    sub = Subscription(10, max_bytes=10)
    sub._deliver(message(0, size=6))
    sub._deliver(Gap("reconnected"))
    sub._deliver(message(1, size=6))  # 12 bytes > 10: dropped
    assert (sub.statistics().buffered, sub.statistics().buffered_bytes) == (2, 6)
    with trio.fail_after(1):
        assert [await sub.receive() for _ in range(3)] == [
            message(0, size=6), Gap("reconnected"), Gap("overflow"),
        ]  # fmt: skip
    assert sub.statistics().buffered_bytes == 0
