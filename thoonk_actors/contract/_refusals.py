"""Reply codes of the contract scripts, and the error each one becomes.

Synopsis: ``raise refusal(code, values, obj="job queue 'emails'",
item="job 'x' in job queue 'emails'", op="finish")``.

Every script replies ``{status, values...}``; a status other than ``ok`` means
the script looked at the stored state, said no, and changed nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .._errors import (
    BadStoredConfigError,
    ClaimLostError,
    DuplicateIdError,
    InvalidIdError,
    NoSuchObjectError,
    NotClaimedError,
    NotFoundError,
    NotStalledError,
    ObjectExistsError,
    ThoonkError,
    WrongTypeError,
)
from ._call import Reply, unexpected

# What to do instead, per operation, when the job is not in the state it needs.
_NOT_CLAIMED_HINTS = {
    "finish": "only a claimed job can be finished: claim it first",
    "cancel": "only a claimed job can be cancelled: claim it first",
    "stall": "only a claimed job can be stalled: claim it first",
    "touch": "only a claimed job can be touched",
    "release": "only a claimed job can be released",
}


def _text(value: Reply) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


@dataclass(frozen=True, slots=True)
class _Say:
    """What a refusal message is about: ``obj``, ``subject`` (item or obj), ``op``."""

    obj: str
    subject: str
    op: str
    values: list[Reply]


def _not_claimed(say: _Say) -> str | None:
    hint = _NOT_CLAIMED_HINTS.get(say.op, "only a claimed job can be settled")
    return (
        f"{say.subject} is not claimed; {hint} (it may already have been finished, "
        "cancelled, stalled or reaped)"
    )


def _claim_lost(say: _Say) -> str | None:
    owner = say.values[1] if len(say.values) > 1 else None
    holder = f"now held by {_text(owner)!r}" if isinstance(owner, bytes) else "not held"
    return (
        f"{say.subject} is no longer claimed by you ({holder}); it was reaped, probably "
        "because its claim timed out or its worker stopped heartbeating: drop this "
        "outcome, the job's current claim decides it"
    )


def _not_found(say: _Say) -> str | None:
    found = _text(say.values[0]) if say.values else "?"
    return f"{say.subject} does not exist (no id {found!r}); check the id"


def _wrongtype(say: _Say) -> str | None:
    if len(say.values) < 3:
        return None
    key, expected, actual = (_text(v) for v in say.values[:3])
    return (
        f"Redis key {key!r} of {say.obj} holds a {actual} where the contract expects a "
        f"{expected}; another program wrote it. Nothing was changed: delete or rename "
        "that key, or use another object name"
    )


def _bad_config(say: _Say) -> str | None:
    if len(say.values) < 3:
        return None
    _key, field, value = (_text(v) for v in say.values[:3])
    return (
        f"config field {field!r} of {say.obj} holds {value!r}, which is not a valid value; "
        "another program wrote it. Set it again with config()"
    )


#: Every refusal a contract script may reply: its error class and its message.
#: The message builder returns None when the reply lacks the values it needs
#: (then the reply breaks the contract: UnexpectedReplyError).
_REFUSALS: dict[str, tuple[type[ThoonkError], Callable[[_Say], str | None]]] = {
    "not_found": (NotFoundError, _not_found),
    "not_claimed": (NotClaimedError, _not_claimed),
    "claim_lost": (ClaimLostError, _claim_lost),
    "not_stalled": (
        NotStalledError,
        lambda say: f"{say.subject} is not stalled; only a stalled job can be retried",
    ),
    "duplicate": (
        DuplicateIdError,
        lambda say: (
            f"{say.subject} already exists; publish under another id, or retract the old one first"
        ),
    ),
    "exists": (
        ObjectExistsError,
        lambda say: f"{say.obj} already exists; pass exist_ok=True to accept an existing one",
    ),
    "no_such_object": (
        NoSuchObjectError,
        lambda say: f"{say.obj} does not exist; create it first",
    ),
    "wrongtype": (WrongTypeError, _wrongtype),
    "bad_config": (BadStoredConfigError, _bad_config),
    "bad_anchor": (
        InvalidIdError,
        lambda say: f"{say.subject} cannot be placed before or after itself; pick another id",
    ),
}

#: Every status a contract script may reply, and the error class it maps to.
REPLY_CODES: dict[str, type[ThoonkError] | None] = {
    "ok": None,
    **{code: cls for code, (cls, _message) in _REFUSALS.items()},
}


def refusal(
    code: str, values: list[Reply], *, obj: str, item: str | None = None, op: str = ""
) -> ThoonkError:
    """The error for a non-``ok`` reply; ``obj``/``item`` name what it is about.

    ``obj`` is e.g. ``"job queue 'emails'"``; ``item`` e.g. ``"job 'x' in job
    queue 'emails'"`` (None for object-level operations); ``op`` the operation.
    An unknown code (or one without the values it needs) gives
    :class:`UnexpectedReplyError`.
    """
    known = _REFUSALS.get(code)
    if known is not None:
        cls, message = known
        text = message(_Say(obj=obj, subject=item or obj, op=op, values=values))
        if text is not None:
            return cls(text)
    return unexpected(f"{op or 'script'} on {obj}", [code.encode(), *values])
