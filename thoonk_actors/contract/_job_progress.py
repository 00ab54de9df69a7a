"""Progress of a claimed job: report it (a script), read the last value, parse its event.

Synopsis::

    call = job_progress(keys, job.id, job.token, 0.5, {"step": 2})   # JobProgress reply: ms
    last = job_progress_of(keys, "job-1")          # Command[JobProgress | None]
    every = job_progress_all(keys)                 # Command[tuple[JobProgress, ...]]
    value = parse_progress("job-1", event.data)    # from a ``progress`` event

The last value of each claimed job lives in ``job.progress:<n>`` (hash id ->
``fraction NUL ms NUL info``); finish, finish_many, cancel, stall, retract
and every reap sweep remove it in the same script (a reap sweep also drops
entries of ids that are not claimed any more, such as released jobs). The
``progress`` event carries ``id NUL fraction NUL ms NUL info``. ``info`` is
compact JSON text (always JSON, whatever the queue's codec: it is metadata for
people and dashboards), at most :data:`MAX_PROGRESS_INFO` bytes.
"""

from __future__ import annotations

import json
import math
import reprlib
from dataclasses import dataclass
from typing import Any

from .._errors import PayloadError, PayloadTooLargeError, UsageError
from ._build import channel_arg, layout, make_call, ok_values
from ._call import Call, Command, Reply, as_bytes, as_int, as_list, as_text, unexpected
from ._job import item_label
from ._keys import JobKeys
from ._names import existing_id_arg, id_text, validate_id

#: Most bytes of a progress report's ``info`` (as compact JSON).
MAX_PROGRESS_INFO = 4096


@dataclass(frozen=True, slots=True)
class JobProgress:
    """How far a claimed job got: ``fraction`` in [0, 1], when (server ms), and ``info``.

    ``info`` is the decoded JSON value the handler passed (None when it passed none).
    """

    id: str
    fraction: float
    at_ms: int
    info: Any = None


def _fraction_arg(fraction: object) -> bytes:
    """``_fraction_arg(0.5)`` -> ``b"0.5"``: a number in [0, 1], else UsageError."""
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, int | float)
        or math.isnan(fraction)
        or not 0 <= fraction <= 1
    ):
        raise UsageError(
            f"progress fraction must be a number from 0 to 1 (0.25 = a quarter done), "
            f"not {reprlib.repr(fraction)}"
        )
    return repr(float(fraction)).encode()


def _info_arg(info: object) -> bytes:
    """``_info_arg({"step": 2})`` -> ``b'{"step":2}'``; None -> ``b""``.

    Raises:
        PayloadError: not JSON-serialisable (or NaN / infinity).
        PayloadTooLargeError: over :data:`MAX_PROGRESS_INFO` bytes as JSON.
    """
    if info is None:
        return b""
    try:
        text = json.dumps(info, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise PayloadError(
            f"progress info must be JSON-serialisable (dict, list, str, number, bool, "
            f"None; no NaN): {exc}"
        ) from None
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > MAX_PROGRESS_INFO:
        raise PayloadTooLargeError(
            f"progress info is {len(data)} bytes as JSON; keep it under {MAX_PROGRESS_INFO} "
            "bytes (a step name, counts; put large data in the job's result)"
        )
    return data


layout("job/progress", ("claimed", "owners", "progress"))


def job_progress(
    keys: JobKeys, id: str, token: str, fraction: float, info: object = None
) -> Call[int]:
    """``job_progress(keys, "job-1", token, 0.5)``: store and announce; decodes to the server ms.

    Raises:
        UsageError: (now) a fraction outside [0, 1]; PayloadError: (now) bad info;
            InvalidIdError: (now) a bad id or token (a token is required).
        ClaimLostError: (decode) the job is not claimed by that token (finished,
            cancelled, reaped, or claimed again by someone else).
    """
    raw_id = existing_id_arg(id)
    validate_id(token, what="claim token")
    args: list[str | bytes] = [raw_id, token, _fraction_arg(fraction), _info_arg(info)]

    def decode(reply: Reply) -> int:
        values = ok_values(reply, script="job/progress", obj=keys.label, item=item_label(keys, id))
        return as_int(values[1], "job/progress")

    return make_call("job/progress", keys, [*args, channel_arg(keys, "progress")], decode)


def parse_progress(id: str, data: bytes | None) -> JobProgress:
    """``parse_progress("job-1", b"0.5\\x00171...\\x00{}")``: a stored value or event payload.

    Raises:
        UnexpectedReplyError: not ``fraction NUL ms NUL info`` (another program wrote it).
    """
    parts = (data or b"").split(b"\0", 2)
    try:
        if len(parts) != 3:
            raise ValueError
        fraction, at_ms = float(parts[0]), int(parts[1])
        info = json.loads(parts[2]) if parts[2] else None
    except ValueError:
        raise unexpected(f"progress of job {id!r}", data) from None
    return JobProgress(id=id, fraction=fraction, at_ms=at_ms, info=info)


def job_progress_of(keys: JobKeys, id: str) -> Command[JobProgress | None]:
    """``job_progress_of(keys, "job-1")``: the last progress of a claimed job, or None."""
    raw_id = existing_id_arg(id)

    def decode(reply: Reply) -> JobProgress | None:
        if reply is None:
            return None
        return parse_progress(id_text(raw_id), as_bytes(reply, "HGET progress"))

    return Command(args=("HGET", keys.progress, raw_id), keys=(keys.progress,), decode=decode)


def job_progress_all(keys: JobKeys) -> Command[tuple[JobProgress, ...]]:
    """``job_progress_all(keys)``: the last progress of every claimed job that reported one."""

    def decode(reply: Reply) -> tuple[JobProgress, ...]:
        flat = as_list(reply, "HGETALL progress")
        return tuple(
            parse_progress(as_text(flat[i], "HGETALL progress"), as_bytes(flat[i + 1], "progress"))
            for i in range(0, len(flat) - 1, 2)
        )

    return Command(args=("HGETALL", keys.progress), keys=(keys.progress,), decode=decode)
