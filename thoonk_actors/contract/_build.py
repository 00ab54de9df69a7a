"""Helpers the op modules share to build calls (private to the contract package).

Synopsis: ``make_call("job/retry", keys, ("ids", "stalled", "published"),
(id, channel), decode)``: the keys are named by their field on the keys object,
in the order of the script's KEYS header (a test checks the two agree).
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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


@dataclass(slots=True)
class _Memo:
    """What the builders derive from one keys object, worked out once."""

    keys: ObjectKeys
    name: bytes
    layouts: dict[str, tuple[str | bytes, ...]] = field(default_factory=dict)
    channels: dict[str, bytes] = field(default_factory=dict)


# Keyed by id(keys); the entry holds the keys object, so the id cannot be reused
# by another object while the entry lives. A Job object keeps its keys, so every
# call after its first one is a hit; the bound keeps odd workloads (a new keys
# object per call) from growing it without end.
_MEMO: dict[int, _Memo] = {}
_MEMO_MAX = 4096


def _memo(keys: ObjectKeys) -> _Memo:
    memo = _MEMO.get(id(keys))
    if memo is None or memo.keys is not keys:
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        memo = _MEMO[id(keys)] = _Memo(keys, keys.name.encode())
    return memo


def layout_keys(script: str, keys: ObjectKeys) -> tuple[str | bytes, ...]:
    """``layout_keys("job/claim", keys)``: the KEYS of the script's layout (cached)."""
    memo = _memo(keys)
    names = memo.layouts.get(script)
    if names is None:
        names = memo.layouts[script] = tuple(getattr(keys, f) for f in KEY_LAYOUT[script])
    return names


def channel_arg(keys: ObjectKeys, event: str) -> bytes:
    """``channel_arg(keys, "finish")`` -> ``b"event.job.finish:<name>"`` (cached)."""
    memo = _memo(keys)
    name = memo.channels.get(event)
    if name is None:
        name = memo.channels[event] = keys.channel(event).encode()
    return name


def name_arg(keys: ObjectKeys) -> bytes:
    """``name_arg(keys)`` -> the object name as an ARGV value (cached)."""
    return _memo(keys).name


def make_call(
    script: str,
    keys: ObjectKeys,
    args: Sequence[str | bytes | int | bool],
    decode: Callable[[Reply], T],
    *,
    extra_keys: Sequence[str | bytes] = (),
    registry: bool = False,
    cluster_after: Args | None = None,
    idempotent: bool = False,
) -> Call[T]:
    """A :class:`Call` for ``script`` with its layout's keys, then ``extra_keys``.

    With ``registry``, standalone mode appends the registry set to KEYS (the
    script reads or updates it atomically); cluster mode cannot (another slot)
    and instead puts ``cluster_after`` (e.g. ``("SADD", "jobs", name)``) in
    :attr:`Call.after`.
    """
    return encoded_call(
        script,
        keys,
        tuple([a if type(a) is bytes else arg(a) for a in args]),
        decode,
        extra_keys=extra_keys,
        registry=registry,
        cluster_after=cluster_after,
        idempotent=idempotent,
    )


def encoded_call(
    script: str,
    keys: ObjectKeys,
    args: tuple[bytes, ...],
    decode: Callable[[Reply], T],
    *,
    extra_keys: Sequence[str | bytes] = (),
    registry: bool = False,
    cluster_after: Args | None = None,
    idempotent: bool = False,
) -> Call[T]:
    """:func:`make_call` for ``args`` that are bytes already (the batch builders)."""
    key_names = layout_keys(script, keys)
    after: tuple[Args, ...] = ()
    if registry:
        if not keys.cluster:
            extra_keys = (*extra_keys, keys.registry)
        elif cluster_after is not None:
            after = (cluster_after,)
    if extra_keys:
        key_names = (*key_names, *extra_keys)
    return Call(
        script=load_script(script),
        keys=key_names,
        args=args,
        decode=decode,
        after=after,
        idempotent=idempotent,
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
        raise UsageError(f"{what} must be an int from {low} to {high}, not {reprlib.repr(value)}")
    return value
