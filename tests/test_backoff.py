"""The one backoff rule (thoonk_actors._backoff): doubling, cap, jitter, reset, clocks.

Loops that use it are tested on trio's virtual clock where they live
(tests/runtime/test_restart_backoff.py); here the rule itself. Run lengths are
measured on ``autojump_clock``, so the asserted pauses are exact.
"""

from __future__ import annotations

import random
import threading

import pytest
import trio
import trio.testing

from thoonk_actors import UsageError
from thoonk_actors._backoff import Backoff, BackoffPolicy


def delays(backoff: Backoff, n: int) -> list[float]:
    return [backoff.next_delay() for _ in range(n)]


def test_pauses_double_from_first_up_to_maximum() -> None:
    backoff = BackoffPolicy(first=0.5, maximum=10.0).start()
    assert delays(backoff, 8) == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_factor_sets_the_growth() -> None:
    backoff = BackoffPolicy(first=1.0, maximum=50.0, factor=3.0).start()
    assert delays(backoff, 5) == [1.0, 3.0, 9.0, 27.0, 50.0]


def test_a_success_starts_the_pauses_over() -> None:
    backoff = BackoffPolicy(first=0.02, maximum=1.0).start()
    assert delays(backoff, 4) == [0.02, 0.04, 0.08, 0.16]
    backoff.reset()
    assert delays(backoff, 2) == [0.02, 0.04]


def test_immediate_retries_the_first_failure_at_once_then_backs_off() -> None:
    backoff = BackoffPolicy(first=0.05, maximum=0.5, immediate=True).start()
    assert delays(backoff, 6) == [0.0, 0.05, 0.1, 0.2, 0.4, 0.5]
    backoff.reset()
    assert delays(backoff, 2) == [0.0, 0.05]


def test_jitter_shortens_each_pause_by_at_most_its_fraction() -> None:
    policy = BackoffPolicy(first=1.0, maximum=8.0, jitter=0.25)
    plain = delays(BackoffPolicy(first=1.0, maximum=8.0).start(), 200)
    seen = delays(policy.start(rng=random.Random(7).random), 200)
    for base, got in zip(plain, seen, strict=True):
        assert base * 0.75 <= got <= base
    assert len(set(seen)) > 100  # it does vary
    # The extremes of the random draw: [0, 1) maps to (0.75 * base, base].
    assert delays(policy.start(rng=lambda: 0.0), 3) == [1.0, 2.0, 4.0]
    assert delays(policy.start(rng=lambda: 1.0), 3) == [0.75, 1.5, 3.0]


def test_jitter_never_delays_an_immediate_retry() -> None:
    policy = BackoffPolicy(first=0.05, maximum=0.5, jitter=1.0, immediate=True)
    assert delays(policy.start(rng=lambda: 0.5), 2) == [0.0, 0.025]


async def test_a_long_enough_run_starts_the_pauses_over(
    autojump_clock: trio.testing.MockClock,
) -> None:
    backoff = BackoffPolicy(first=1.0, maximum=30.0, healthy_after=60.0).start()
    pauses = []
    for ran in (0, 5, 59.5, 60, 1, 1):
        backoff.run_started()
        await trio.sleep(ran)
        assert backoff.ran_for() == ran
        pauses.append(backoff.run_failed())
    assert pauses == [1.0, 2.0, 4.0, 1.0, 2.0, 4.0]


def test_ran_for_is_zero_before_the_first_run() -> None:
    assert BackoffPolicy(first=1.0, maximum=2.0).start(clock=lambda: 5.0).ran_for() == 0.0


def test_a_plain_thread_measures_runs_with_its_own_clock() -> None:
    """Outside trio (a thread, no loop) a loop passes ``clock=time.monotonic``; a fake here."""
    now = [100.0]
    results: list[float] = []

    def loop() -> None:
        backoff = BackoffPolicy(first=0.5, maximum=10.0, healthy_after=60.0).start(
            clock=lambda: now[0]
        )
        for ran in (1.0, 1.0, 61.0):
            backoff.run_started()
            now[0] += ran
            results.append(backoff.run_failed())

    thread = threading.Thread(target=loop)
    thread.start()
    thread.join(10)
    assert results == [0.5, 1.0, 0.5]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"first": 0.0, "maximum": 1.0}, "first pause must be seconds > 0"),
        ({"first": float("nan"), "maximum": 1.0}, "first pause must be seconds > 0"),
        ({"first": 2.0, "maximum": 1.0}, "maximum .* must be at least its first pause"),
        ({"first": 1.0, "maximum": float("inf")}, "maximum .* must be at least"),
        ({"first": 1.0, "maximum": 2.0, "factor": 0.5}, "factor must be >= 1"),
        ({"first": 1.0, "maximum": 2.0, "jitter": 1.5}, r"jitter must be a fraction in \[0, 1\]"),
        ({"first": 1.0, "maximum": 2.0, "jitter": -0.1}, "jitter must be a fraction"),
        ({"first": 1.0, "maximum": 2.0, "healthy_after": 0}, "healthy_after must be seconds > 0"),
    ],
)
def test_bad_settings_are_refused_with_what_to_do(settings: dict[str, float], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        BackoffPolicy(**settings)  # type: ignore[arg-type]
