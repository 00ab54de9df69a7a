"""Reply codes of the contract scripts, and the error each one becomes.

Synopsis: ``raise refusal(code, values, obj="job queue 'emails'",
item="job 'x' in job queue 'emails'", op="finish")``.

Every script replies ``{status, values...}``; a status other than ``ok`` means
the script looked at the stored state, said no, and changed nothing.
"""

from __future__ import annotations

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

#: Every status a contract script may reply, and the error class it maps to.
REPLY_CODES: dict[str, type[ThoonkError] | None] = {
    "ok": None,
    "not_found": NotFoundError,
    "not_claimed": NotClaimedError,
    "claim_lost": ClaimLostError,
    "not_stalled": NotStalledError,
    "duplicate": DuplicateIdError,
    "exists": ObjectExistsError,
    "no_such_object": NoSuchObjectError,
    "wrongtype": WrongTypeError,
    "bad_config": BadStoredConfigError,
    "bad_anchor": InvalidIdError,
}

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


def refusal(
    code: str, values: list[Reply], *, obj: str, item: str | None = None, op: str = ""
) -> ThoonkError:
    """The error for a non-``ok`` reply; ``obj``/``item`` name what it is about.

    ``obj`` is e.g. ``"job queue 'emails'"``; ``item`` e.g. ``"job 'x' in job
    queue 'emails'"`` (None for object-level operations); ``op`` the operation.
    An unknown code gives :class:`UnexpectedReplyError`.
    """
    subject = item or obj
    if code == "not_claimed":
        hint = _NOT_CLAIMED_HINTS.get(op, "only a claimed job can be settled")
        return NotClaimedError(
            f"{subject} is not claimed; {hint} (it may already have been finished, "
            "cancelled, stalled or reaped)"
        )
    if code == "claim_lost":
        owner = values[1] if len(values) > 1 else None
        holder = f"now held by {_text(owner)!r}" if isinstance(owner, bytes) else "not held"
        return ClaimLostError(
            f"{subject} is no longer claimed by you ({holder}); it was reaped, probably "
            "because its claim timed out or its worker stopped heartbeating: drop this "
            "outcome, the job's current claim decides it"
        )
    if code == "not_stalled":
        return NotStalledError(f"{subject} is not stalled; only a stalled job can be retried")
    if code == "duplicate":
        return DuplicateIdError(
            f"{subject} already exists; publish under another id, or retract the old one first"
        )
    if code == "not_found":
        found = _text(values[0]) if values else "?"
        return NotFoundError(f"{subject} does not exist (no id {found!r}); check the id")
    if code == "exists":
        return ObjectExistsError(
            f"{obj} already exists; pass exist_ok=True to accept an existing one"
        )
    if code == "no_such_object":
        return NoSuchObjectError(f"{obj} does not exist; create it first")
    if code == "wrongtype" and len(values) >= 3:
        key, expected, actual = (_text(v) for v in values[:3])
        return WrongTypeError(
            f"Redis key {key!r} of {obj} holds a {actual} where the contract expects a "
            f"{expected}; another program wrote it. Nothing was changed: delete or rename "
            "that key, or use another object name"
        )
    if code == "bad_config" and len(values) >= 3:
        _key, field, value = (_text(v) for v in values[:3])
        return BadStoredConfigError(
            f"config field {field!r} of {obj} holds {value!r}, which is not a valid value; "
            "another program wrote it. Set it again with config()"
        )
    if code == "bad_anchor":
        return InvalidIdError(f"{subject} cannot be placed before or after itself; pick another id")
    return unexpected(f"{op or 'script'} on {obj}", [code.encode(), *values])
