"""Misuse a type checker must report (read by mypy in test_twins.py, never run).

Every line marked ``# error`` must be reported by mypy, and no other line: if
the twins were typed ``Any`` these calls would pass unnoticed.
"""

from __future__ import annotations

from thoonk_actors.sync import SyncThoonk


def misuse(t: SyncThoonk) -> None:
    count: int = t.feed("news").publish("x")  # error: a str is not an int
    t.feed("news").publish("x", idd="1")  # error: no such keyword
    t.job("emails").finish()  # error: which job?
    t.queue("tasks").put_many([1], priority="yes")  # error: a str is not a bool
    t.names("job", "feed")  # error: one kind
    late = t.job("emails").statistics().no_such_field  # error: JobStats has no such field
    del count, late


async def misuse_in_a_cell(t: SyncThoonk) -> None:
    await t.job("emails").aio.finish()  # error: which job?
