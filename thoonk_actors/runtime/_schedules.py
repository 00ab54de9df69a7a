"""Recurring jobs: ``@app.every(60)`` and ``@app.cron("*/5 * * * *", tz="Europe/Paris")``.

Synopsis::

    @app.every(60)                          # queue "cleanup", a tick every minute
    async def cleanup(tick):                # {"schedule", "tick_ms", "tick"}
        ...

    @app.cron("0 3 * * *", tz="Europe/Paris", catch_up=True)
    def nightly(tick): ...

Every process running the app runs a *ticker* per schedule: it reads the
server's clock, works out the tick that is due (``every``: multiples of the
period since the epoch; ``cron``: the expression in its time zone, by
``cronsim``) and publishes that tick's job, id ``tick:<schedule>:<tick ms>``,
to the schedule's queue. The publish script keeps each schedule's last tick in
``job.ticks:<queue>`` and refuses a tick that is not newer as a duplicate, so
each tick is published once across any number of processes and machines, even
when its job has finished before a slower process tries it. Then the workers
of the queue run it like any job (retries, timeouts, results).

After downtime: without ``catch_up`` only the most recent missed tick runs
(once), never a burst; ``catch_up=True`` publishes every tick missed since the
last one published (at most :data:`MAX_CATCH_UP`, the most recent ones). A
schedule that has never ticked starts with its next tick (deploying a daily
job at 14:00 does not run the 03:00 tick).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import trio

from .. import contract
from .._errors import DuplicateIdError, UsageError
from ._supervise import supervise

if TYPE_CHECKING:
    from ..objects import Thoonk

log = logging.getLogger("thoonk_actors.runtime")

#: Most missed ticks one ``catch_up=True`` schedule publishes after downtime.
MAX_CATCH_UP = 1000

#: Shortest ``every`` period (ms): ticks are whole ms of the server clock.
MIN_PERIOD_MS = 10


class Rule(Protocol):
    """When a schedule ticks, in server-clock ms since the epoch."""

    spec: str

    def latest(self, now_ms: int) -> int:
        """The last tick at or before ``now_ms``."""
        ...

    def after(self, ms: int) -> int:
        """The first tick strictly after ``ms``."""
        ...


@dataclass(frozen=True, slots=True)
class Every:
    """A tick every ``period_ms``, at the multiples of the period since the epoch.

    Aligned to the epoch (not to when a process started) so every process
    derives the same tick times, hence the same job ids.
    """

    period_ms: int

    @classmethod
    def of(cls, seconds: float) -> Every:
        """``Every.of(60)``; a UsageError unless ``seconds`` is a finite number > 0."""
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or round(seconds * 1000) < MIN_PERIOD_MS
            or seconds * 1000 >= contract.MAX_MS
        ):
            raise UsageError(
                f"every() takes seconds between {MIN_PERIOD_MS / 1000} and about 34 years, "
                f"not {seconds!r}"
            )
        return cls(round(seconds * 1000))

    @property
    def spec(self) -> str:
        return f"every {self.period_ms / 1000:g}s"

    def latest(self, now_ms: int) -> int:
        return now_ms // self.period_ms * self.period_ms

    def after(self, ms: int) -> int:
        return (ms // self.period_ms + 1) * self.period_ms


@dataclass(frozen=True, slots=True)
class Cron:
    """A cron expression (5 fields, as cronsim reads it) in a time zone (UTC by default)."""

    expression: str
    tz: ZoneInfo

    @classmethod
    def of(cls, expression: str, tz: str | ZoneInfo | None = None) -> Cron:
        """``Cron.of("*/5 * * * *", tz="Europe/Paris")``; checked at once.

        Raises:
            UsageError: cronsim is not installed, an invalid expression, or an
                unknown time zone.
        """
        cronsim = _cronsim()
        if isinstance(tz, ZoneInfo):
            zone = tz
        elif tz is None:
            zone = ZoneInfo("UTC")
        elif isinstance(tz, str):
            try:
                zone = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise UsageError(
                    f"unknown time zone {tz!r}: give an IANA name such as 'Europe/Paris' "
                    "(on Windows, pip install tzdata)"
                ) from None
        else:
            raise UsageError(f"tz must be an IANA time zone name or a ZoneInfo, not {tz!r}")
        if not isinstance(expression, str):
            raise UsageError(f"a cron expression is text, not {expression!r}")
        try:
            next(cronsim.CronSim(expression, datetime(2000, 1, 1, tzinfo=zone)))
        except (cronsim.CronSimError, StopIteration) as exc:
            raise UsageError(
                f"invalid cron expression {expression!r} ({exc}); five fields: "
                "minute hour day-of-month month day-of-week, e.g. '*/5 * * * *'"
            ) from None
        return cls(expression, zone)

    @property
    def spec(self) -> str:
        return f"cron {self.expression} {self.tz.key}"

    def _first(self, ms: int, *, reverse: bool) -> int:
        cronsim = _cronsim()
        start = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(self.tz)
        tick: datetime = next(cronsim.CronSim(self.expression, start, reverse=reverse))
        return round(tick.timestamp() * 1000)

    def latest(self, now_ms: int) -> int:
        # cronsim's reverse iteration gives the match strictly before its start.
        return self._first(now_ms + 1, reverse=True)

    def after(self, ms: int) -> int:
        return self._first(ms, reverse=False)


def _cronsim() -> Any:
    try:
        import cronsim
    except ImportError:
        raise UsageError(
            "@app.cron needs the cronsim package: pip install 'thoonk-actors[cron]'"
        ) from None
    return cronsim


@dataclass(frozen=True, slots=True)
class ScheduleRegistration:
    """One ``@app.every`` / ``@app.cron``: its name, queue and rule."""

    name: str
    queue: str
    rule: Every | Cron
    catch_up: bool

    def ticks(self, floor_ms: int, now_ms: int) -> list[int]:
        """The ticks to publish now: after ``floor_ms`` (the last published), up to ``now_ms``."""
        due = self.rule.latest(now_ms)
        if due <= floor_ms:
            return []
        if not self.catch_up:
            return [due]
        out: list[int] = []
        tick = self.rule.after(floor_ms)
        while tick <= due:
            out.append(tick)
            tick = self.rule.after(tick)
        return out[-MAX_CATCH_UP:]


def tick_item(registration: ScheduleRegistration, tick_ms: int) -> dict[str, Any]:
    """What the handler gets: the schedule's name and the tick's time (ms and ISO, UTC)."""
    at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=tick_ms)
    return {
        "schedule": registration.name,
        "tick_ms": tick_ms,
        "tick": at.isoformat().replace("+00:00", "Z"),
    }


async def ticker(thoonk: Thoonk, registration: ScheduleRegistration) -> None:
    """Publish each tick of ``registration`` when due (by the server clock), for ever."""
    job = thoonk.job(registration.queue)
    keys = job.keys
    started_ms: list[int] = []  # when this process first looked (kept across restarts)

    async def run() -> None:
        while True:
            promoted = await thoonk.run(contract.job_promote(keys))
            now = promoted.at_ms
            if not started_ms:
                started_ms.append(now)
            records = await thoonk.read(contract.job_ticks(keys))
            record = records.get(registration.name)
            floor = record.last_ms if record is not None else started_ms[0]
            for tick in registration.ticks(floor, now):
                await publish_tick(thoonk, registration, tick)
            wait_ms = registration.rule.after(now) - now
            await trio.sleep(wait_ms / 1000 + 0.001)

    await supervise(run, what=f"ticker of schedule {registration.name!r}", logger=log)


async def publish_tick(thoonk: Thoonk, registration: ScheduleRegistration, tick_ms: int) -> bool:
    """Publish one tick's job; False when it was published already (by any process)."""
    job = thoonk.job(registration.queue)
    tick = contract.ScheduleTick(registration.name, tick_ms, registration.rule.spec)
    item = job.codec.encode(tick_item(registration, tick_ms))
    try:
        await thoonk.run(contract.job_publish(job.keys, tick.job_id, item, tick=tick))
    except DuplicateIdError:
        return False
    log.info("schedule %r published its tick %d", registration.name, tick_ms)
    return True
