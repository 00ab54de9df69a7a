"""The garbage collector is paused while many actors start, and always given back."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import trio

from thoonk_actors.objects import FeedEvent
from thoonk_actors.runtime import App, Resync
from thoonk_actors.runtime import _app as app_module
from thoonk_actors.runtime._gcpause import LIMIT_S, StartPause

from ..polling import wait_until


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_off_until_every_actor_started_and_nested_pauses_share_it() -> None:
    first, second = StartPause(2), StartPause(1)
    assert not gc.isenabled()
    first.started()
    second.started()  # the second is done, the first still holds it
    assert not gc.isenabled()
    first.started()
    assert gc.isenabled()
    first.release()  # idempotent: nothing is released twice
    assert gc.isenabled()


def test_a_collector_the_program_turned_off_stays_off() -> None:
    gc.disable()
    pause = StartPause(1)
    pause.started()
    assert not gc.isenabled()


def test_nothing_to_wait_for_touches_nothing() -> None:
    StartPause(0)
    assert gc.isenabled()


async def test_given_back_after_the_limit_however_slow_the_start(autojump_clock: object) -> None:
    pause = StartPause(3)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pause.serve)
        await trio.sleep(LIMIT_S - 0.5)
        assert not gc.isenabled()
    assert trio.current_time() == LIMIT_S
    assert gc.isenabled()


async def test_an_app_pauses_it_during_the_start_resyncs_only(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "GC_PAUSE_FROM", 2)
    app = App(redis_url)
    during: list[bool] = []

    async def on_event(event: FeedEvent | Resync) -> None:
        if isinstance(event, Resync):
            during.append(gc.isenabled())

    app.feed("one")(on_event)
    app.feed("two")(on_event)
    with trio.fail_after(20):
        async with app.open():
            await wait_until(lambda: len(during) == 2, what="both start resyncs")
            await wait_until(gc.isenabled, what="the collector back on")
    assert during == [False, False]
    assert gc.isenabled()
