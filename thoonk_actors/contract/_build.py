"""Helpers the op modules share to build calls (private to the contract package).

Synopsis: ``make_call("job/retry", keys, ("ids", "stalled", "published"),
(id, channel), decode)``: the keys are named by their field on the keys object,
in the order of the script's KEYS header (a test checks the two agree).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from .._errors import UsageError
from ._call import Args, Call, Reply, status
from ._keys import ObjectKeys
from ._names import id_bytes
from ._refusals import refusal
from ._scripts import load_script

T = TypeVar("T")

#: Script name -> the keys-object fields it takes as KEYS, in order (before any
#: per-id keys and the optional registry). Filled by the op modules; tests read it.
KEY_LAYOUT: dict[str, tuple[str, ...]] = {}


def arg(value: str | bytes | int | bool) -> bytes:
    """One ARGV value as bytes (str as UTF-8, bool as '1'/'0', int as decimal)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, int):
        return str(value).encode()
    return id_bytes(value)


def layout(script: str, fields: tuple[str, ...]) -> tuple[str, ...]:
    """Record (once, at import) which key fields ``script`` takes; returns ``fields``."""
    KEY_LAYOUT[script] = fields
    return fields


def make_call(
    script: str,
    keys: ObjectKeys,
    args: Sequence[str | bytes | int | bool],
    decode: Callable[[Reply], T],
    *,
    extra_keys: Sequence[str] = (),
    registry: bool = False,
    cluster_after: Args | None = None,
) -> Call[T]:
    """A :class:`Call` for ``script`` with its layout's keys, then ``extra_keys``.

    With ``registry``, standalone mode appends the registry set to KEYS (the
    script reads or updates it atomically); cluster mode cannot (another slot)
    and instead puts ``cluster_after`` (e.g. ``("SADD", "jobs", name)``) in
    :attr:`Call.after`.
    """
    key_names = [getattr(keys, field) for field in KEY_LAYOUT[script]]
    key_names.extend(extra_keys)
    after: tuple[Args, ...] = ()
    if registry:
        if not keys.cluster:
            key_names.append(keys.registry)
        elif cluster_after is not None:
            after = (cluster_after,)
    return Call(
        script=load_script(script),
        keys=tuple(key_names),
        args=tuple(arg(a) for a in args),
        decode=decode,
        after=after,
    )


def ok_values(
    reply: Reply, *, script: str, obj: str, item: str | None = None, op: str = ""
) -> list[Reply]:
    """The values after an ``ok`` status, or raise the refusal's error."""
    code, values = status(reply, script)
    if code != "ok":
        raise refusal(code, values, obj=obj, item=item, op=op or script.partition("/")[2])
    return values


def check_count(value: object, *, what: str, low: int = 1, high: int = 10_000) -> int:
    """``check_count(n, what="max_jobs")``: an int in [low, high], or UsageError."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{what} must be an int from {low} to {high}, not {value!r}")
    return value
