"""The runtime's small pieces without Redis: backoff, mailbox overflow, app loading.

Time logic runs on trio's ``autojump_clock``, so the asserted times are exact.
"""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from thoonk_actors import UsageError
from thoonk_actors.runtime import App, load_app, run_workers
from thoonk_actors.runtime._mailbox import Mailbox, Missed
from thoonk_actors.runtime._registry import is_async_callable
from thoonk_actors.runtime._stats import RateMeter
from thoonk_actors.runtime._supervise import supervise
from thoonk_actors.transport import Message


async def test_supervise_restarts_with_doubling_backoff(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    starts: list[float] = []
    restarts: list[float] = []

    async def flaky() -> None:
        starts.append(trio.current_time())
        if len(starts) < 4:
            raise RuntimeError("boom")

    await supervise(
        flaky,
        what="flaky loop",
        first_delay=1.0,
        max_delay=3.0,
        on_restart=lambda: restarts.append(0),
    )
    assert starts == [0.0, 1.0, 3.0, 6.0]  # waits 1, 2, then 3 (capped)
    assert len(restarts) == 3
    assert [r.message for r in caplog.records if r.levelno == logging.ERROR] == [
        "flaky loop crashed; restarting in 1.00 s",
        "flaky loop crashed; restarting in 2.00 s",
        "flaky loop crashed; restarting in 3.00 s",
    ]


async def test_supervise_backoff_starts_over_after_a_healthy_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    starts: list[float] = []

    async def loop() -> None:
        starts.append(trio.current_time())
        if len(starts) == 3:
            await trio.sleep(100)  # a long healthy run, then a failure
        if len(starts) < 5:
            raise RuntimeError("crashed")  # a crash (connection errors: tests/chaos)

    await supervise(loop, what="loop", first_delay=1.0, healthy_after=50)
    assert starts == [0.0, 1.0, 3.0, 104.0, 106.0]


async def test_supervise_stops_during_backoff(autojump_clock: trio.testing.MockClock) -> None:
    stopping = trio.Event()

    async def failing() -> None:
        raise RuntimeError("always")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: supervise(failing, what="x", stopping=stopping, first_delay=10))
        await trio.sleep(5)
        stopping.set()
    assert trio.current_time() == 5.0


def message(n: int) -> Message:
    return Message(b"event.feed.publish:f", str(n).encode())


async def test_mailbox_overflow_drops_then_gives_one_missed_marker_once_drained() -> None:
    box = Mailbox(2)
    with trio.fail_after(1):
        await overflow_then_drain(box)
    assert box.dropped == 4


async def overflow_then_drain(box: Mailbox) -> None:
    for n in range(5):
        box.offer(message(n))
    assert (box.buffered, box.dropped) == (2, 3)
    assert await box.receive() == message(0)
    box.offer(message(5))  # still dropping: the actor has not caught up
    assert await box.receive() == message(1)
    assert await box.receive() == Missed("overflow")
    box.offer(message(6))  # after the marker, nothing is dropped
    assert await box.receive() == message(6)


async def test_mailbox_gap_is_queued_in_order_or_remembered_when_full() -> None:
    box = Mailbox(3)
    box.offer(message(0))
    box.gap("reconnected")
    box.offer(message(1))  # full now
    box.gap("reconnected")  # remembered
    with trio.fail_after(1):
        received = [await box.receive() for _ in range(4)]
    assert received == [
        message(0), Missed("reconnected"), message(1), Missed("reconnected"),
    ]  # fmt: skip


async def test_mailbox_hands_a_message_to_the_waiting_actor_in_order() -> None:
    box = Mailbox(2)
    got: list[Message | Missed] = []

    async def actor() -> None:
        for _ in range(4):
            got.append(await box.receive())

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor)
            await trio.testing.wait_all_tasks_blocked()
            box.offer(message(0))  # handed over: nothing buffered
            assert (box.buffered, box.buffered_bytes) == (0, 0)
            box.offer(message(1))  # the actor has not run yet: queued behind it
            box.gap("reconnected")
            assert (box.buffered, box.buffered_bytes) == (2, 1)
            box.offer(message(2))  # full: dropped, a marker once drained
            assert box.dropped == 1
    assert got == [message(0), message(1), Missed("reconnected"), Missed("overflow")]
    assert (box.buffered, box.buffered_bytes) == (0, 0)


async def test_mailbox_receive_cancelled_takes_nothing_and_always_checkpoints() -> None:
    box = Mailbox(4)
    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(box.receive)
            await trio.testing.wait_all_tasks_blocked()  # parked
            nursery.cancel_scope.cancel()
    box.offer(message(0))  # no receiver parked any more: queued
    assert box.buffered == 1
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await box.receive()  # a message is ready, but cancelled first: kept
    assert box.buffered == 1
    with trio.fail_after(1):
        assert await box.receive() == message(0)
    with pytest.raises(ValueError, match="at least 1"):
        Mailbox(0)


async def test_mailbox_has_one_receiver() -> None:
    box = Mailbox(1)
    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(box.receive)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BusyResourceError):
                await box.receive()
            box.offer(message(0))


def test_is_async_callable_sees_through_partials_and_objects() -> None:
    import functools

    async def coro(x: int) -> int:
        return x

    class Handler:
        async def __call__(self, x: int) -> int:
            return x

    assert is_async_callable(coro)
    assert is_async_callable(functools.partial(coro))
    assert is_async_callable(Handler())
    assert not is_async_callable(print)


async def test_rate_meter_averages_recent_seconds(autojump_clock: trio.testing.MockClock) -> None:
    meter = RateMeter(window=5)
    await trio.sleep(10)
    for _ in range(5):
        meter.add(100)
        await trio.sleep(1)
    assert meter.rate() == 100.0
    await trio.sleep(10)
    assert meter.rate() == 0.0


app = App()


@app.job("units")
async def _handler(item: object) -> None: ...


def test_load_app_finds_the_app_and_explains_mistakes() -> None:
    assert load_app("tests.runtime.test_units:app") is app
    with pytest.raises(UsageError, match="module:app"):
        load_app("tests.runtime.test_units")
    with pytest.raises(UsageError, match="cannot import"):
        load_app("tests.runtime.no_such_module:app")
    with pytest.raises(UsageError, match="no attribute"):
        load_app("tests.runtime.test_units:nope")
    with pytest.raises(UsageError, match="not a thoonk_actors App"):
        load_app("tests.runtime.test_units:message")


def test_run_workers_refuses_a_bad_target_before_starting_anything() -> None:
    with pytest.raises(UsageError, match="processes"):
        run_workers("tests.runtime.test_units:app", processes=0)
    with pytest.raises(UsageError, match="not a thoonk_actors App"):
        run_workers("tests.runtime.test_units:message", processes=1)
