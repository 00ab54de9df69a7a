"""``thoonk schedules``: the recurring jobs (``@app.every`` / ``@app.cron``) and their last ticks.

Synopsis::

    thoonk schedules              # QUEUE  SCHEDULE  SPEC  LAST TICK (UTC)
    thoonk schedules --json

A schedule is defined in the code of the apps that run it; what Redis holds
(and so what this lists) is each schedule's last published tick and its spec,
in ``job.ticks:<queue>`` of every registered job queue. A schedule shows up
once it has published its first tick.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._errors import InvalidNameError
from ..contract import job_ticks
from ._common import (
    EXIT_OK,
    Subparsers,
    add_command,
    add_json,
    add_redis_options,
    emit,
    emit_json,
    table,
    warn,
)
from ._run import run_with_thoonk

if TYPE_CHECKING:
    from ..objects import Thoonk


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    schedules = add_command(
        commands,
        "schedules",
        common,
        help="list the recurring jobs (@app.every / @app.cron) and their last ticks",
        description=(
            "List every recurring job that has ticked: its queue, schedule name, spec "
            "(every Ns, or cron EXPR ZONE) and last published tick (server clock, UTC). "
            "With --json: a list of objects with queue, schedule, spec, last_tick_ms, last_tick."
        ),
        examples="""\
  thoonk schedules
  thoonk schedules --json | jq '.[] | select(.queue == "reports")'
""",
    )
    add_redis_options(schedules)
    add_json(schedules, "a list of schedules")
    schedules.set_defaults(handler=_schedules)


def _iso(ms: int) -> str:
    at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def collect(thoonk: Thoonk) -> list[dict[str, Any]]:
    """One row per schedule of every registered job queue, by queue then schedule name."""
    rows: list[dict[str, Any]] = []
    for queue in await thoonk.names("job"):
        try:
            keys = thoonk.job(queue).keys
        except InvalidNameError as exc:  # someone else wrote the registry
            warn(f"skipped {queue!r} in the 'jobs' registry: {exc}")
            continue
        records = await thoonk.read(job_ticks(keys))
        for name in sorted(records):
            record = records[name]
            rows.append({
                "queue": queue,
                "schedule": name,
                "spec": record.spec,
                "last_tick_ms": record.last_ms,
                "last_tick": _iso(record.last_ms),
            })  # fmt: skip
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """The table, or a line saying there is none."""
    if not rows:
        return "no recurring jobs have ticked yet"
    head = ["QUEUE", "SCHEDULE", "SPEC", "LAST TICK (UTC)"]
    body = [[r["queue"], r["schedule"], r["spec"], r["last_tick"]] for r in rows]
    return table([head, *body], right=4)


def _schedules(args: argparse.Namespace) -> int:
    async def command(thoonk: Thoonk) -> int:
        rows = await collect(thoonk)
        if args.json:
            emit_json(rows)
        else:
            emit(render(rows))
        return EXIT_OK

    return run_with_thoonk(args, command)
