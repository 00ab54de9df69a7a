"""Recurring jobs in the contract: the tick guard of a publish, and reading the ticks hash.

Synopsis::

    tick = ScheduleTick("cleanup", at_ms=1_767_225_600_000, spec="every 60s")
    call = job_publish(keys, tick.job_id, b"{...}", tick=tick)   # once per tick, any process
    cmd = job_ticks(keys)          # {"cleanup": TickRecord(last_ms=..., spec="every 60s")}

A recurring job's tick is published by every process that runs the schedule;
``job.ticks:<name>`` (schedule name -> ``"<last tick ms> <spec>"``) makes the
publish of a tick that is not newer than the stored one a duplicate, so each
tick runs once even when its job finished before a late process tried it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import UsageError
from ._call import Command, Reply, as_list, as_text, unexpected
from ._keys import JobKeys


@dataclass(frozen=True, slots=True)
class ScheduleTick:
    """One tick of a recurring job: its schedule, its time (server clock, ms), its spec.

    ``spec`` is stored with the last tick so ``thoonk schedules`` can show
    what the schedule is (``every 60s``, ``cron */5 * * * * Europe/Paris``).
    """

    schedule: str
    at_ms: int
    spec: str

    def __post_init__(self) -> None:
        if not self.schedule or "\0" in self.schedule or "\0" in self.spec:
            raise UsageError(f"a schedule name must be non-empty text without NUL, not {self!r}")
        if isinstance(self.at_ms, bool) or not isinstance(self.at_ms, int) or self.at_ms < 0:
            raise UsageError(f"a tick time must be ms >= 0, not {self.at_ms!r}")

    @property
    def job_id(self) -> str:
        """``"tick:cleanup:1767225600000"``: the same id in every process for one tick."""
        return f"tick:{self.schedule}:{self.at_ms}"


@dataclass(frozen=True, slots=True)
class TickRecord:
    """What ``job.ticks`` holds for one schedule: its last published tick and spec."""

    last_ms: int
    spec: str


def _tick_args(tick: ScheduleTick | None) -> tuple[bytes, bytes, bytes]:
    """ARGV 8..10 of ``job/publish``: schedule name, tick ms, spec (all empty: no tick)."""
    if tick is None:
        return b"", b"", b""
    return tick.schedule.encode(), b"%d" % tick.at_ms, tick.spec.encode()


def _records(reply: Reply) -> dict[str, TickRecord]:
    flat = as_list(reply, "HGETALL ticks")
    out: dict[str, TickRecord] = {}
    for i in range(0, len(flat) - 1, 2):
        name = as_text(flat[i], "HGETALL ticks")
        value = as_text(flat[i + 1], "HGETALL ticks")
        head, _, spec = value.partition(" ")
        try:
            last = int(head)
        except ValueError:
            raise unexpected("HGETALL ticks", flat[i + 1]) from None
        out[name] = TickRecord(last_ms=last, spec=spec)
    return out


def job_ticks(keys: JobKeys) -> Command[dict[str, TickRecord]]:
    """``job_ticks(keys)``: the recurring schedules of a queue and their last ticks."""
    return Command(
        args=("HGETALL", keys.ticks),
        keys=(keys.ticks,),
        decode=_records,
    )
