"""Validation of object names and ids, before anything is sent to Redis.

Synopsis: ``name = validate_name(name, kind="job queue")``;
``id = validate_id(id)``; ``raw = id_bytes(id)``.

Names become part of key and channel names, so they are held to the contract's
rule (non-empty UTF-8, no control characters, no ``{`` or ``}``, which would break
cluster hash tags). Ids are data, so only NUL (the event payload separator) and
absurd sizes are refused -- for ids WE create (publish, worker ids). An id that
already exists (written by another client, which may store any bytes: invalid
UTF-8, NUL, any length) is only required to be a non-empty str that round-trips
to its bytes (:func:`existing_id_arg`), so our workers can claim, finish, cancel,
stall, retract and read every job another client could publish.

Ids are text in Python and bytes on the wire: ``id_text`` decodes with
``surrogateescape`` and ``id_bytes`` encodes the same way, so any byte string
round-trips losslessly; every key, ARGV and event built from an id uses the bytes.
"""

from __future__ import annotations

import re

from .._errors import InvalidIdError, InvalidNameError

MAX_NAME_BYTES = 1024
MAX_ID_BYTES = 1024


def _is_control(ch: str) -> bool:
    # C0 controls, DEL and C1 controls (Unicode category Cc).
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F


#: What _is_control() refuses, and the braces of cluster hash tags.
_BAD_NAME_CHAR = re.compile("[\x00-\x1f\x7f-\x9f{}]")


def validate_name(name: object, *, kind: str = "object") -> str:
    """``validate_name("emails", kind="job queue")`` -> ``"emails"``, or raise.

    Raises:
        InvalidNameError: ``name`` is not a ``str``, is empty, is not valid UTF-8
            (lone surrogates), holds a control character, ``{`` or ``}``, or is
            longer than 1024 bytes. The message says how to fix it.
    """
    if not isinstance(name, str):
        raise InvalidNameError(
            f"a {kind} name must be a str, not {type(name).__name__}; pass the name as text"
        )
    if not name:
        raise InvalidNameError(f"a {kind} name must not be empty; give it a name like 'emails'")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidNameError(
            f"{kind} name {name!r} is not valid UTF-8 (it holds a lone surrogate); "
            "use a name made of real characters"
        ) from None
    if size > MAX_NAME_BYTES:
        raise InvalidNameError(
            f"{kind} name {name[:40]!r}... is {size} bytes long; "
            f"keep names at or under {MAX_NAME_BYTES} bytes"
        )
    # One regex pass (an app of 10,000 feeds checks 10,000 names twice at start-up).
    bad = _BAD_NAME_CHAR.search(name)
    if bad is not None:
        ch = bad.group()
        if _is_control(ch):
            raise InvalidNameError(
                f"{kind} name {name!r} holds the control character {ch!r}; "
                "remove control characters (newlines, tabs, NUL, ...) from the name"
            )
        raise InvalidNameError(
            f"{kind} name {name!r} holds {ch!r}; braces are reserved for Redis Cluster "
            "hash tags, so leave them out of the name"
        )
    return name


def validate_id(value: object, *, what: str = "id") -> str:
    """``validate_id("job-1")`` -> ``"job-1"``, or raise.

    ``what`` names the value in the message ("id", "worker id", "anchor id").

    Raises:
        InvalidIdError: ``value`` is not a ``str``, is empty, holds a NUL byte
            (the contract's payload separator), cannot be encoded, or is longer
            than 1024 bytes.
    """
    if not isinstance(value, str):
        raise InvalidIdError(
            f"an {what} must be a str, not {type(value).__name__}; convert it with str() first"
        )
    if not value:
        raise InvalidIdError(f"an {what} must not be empty; leave it out to get a generated one")
    if "\0" in value:
        raise InvalidIdError(
            f"{what} {value!r} holds a NUL character, which separates fields in Thoonk "
            "events; remove it"
        )
    size = len(id_bytes(value, what=what))
    if size > MAX_ID_BYTES:
        raise InvalidIdError(
            f"{what} {value[:40]!r}... is {size} bytes long; keep it at or under "
            f"{MAX_ID_BYTES} bytes"
        )
    return value


def id_arg(value: object, *, what: str = "id") -> bytes:
    """``id_arg("job-1")`` -> ``b"job-1"``: :func:`validate_id` and :func:`id_bytes` in one.

    The hot path of every job call: a plain str is checked and encoded once;
    anything unusual goes through :func:`validate_id` for its exact error.

    Raises:
        InvalidIdError: as :func:`validate_id`.
    """
    if type(value) is str and value and "\0" not in value:
        try:
            raw = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = b""
        if raw and len(raw) <= MAX_ID_BYTES:
            return raw
    return id_bytes(validate_id(value, what=what), what=what)


def existing_id_arg(value: object, *, what: str = "id") -> bytes:
    """``existing_id_arg("job-1")`` -> ``b"job-1"``: an id another client may have written.

    Lenient on purpose: NUL bytes, bytes that are not UTF-8 (escaped by
    :func:`id_text`) and ids over 1024 bytes are accepted, because the
    original JavaScript client accepts them and our workers must be able to
    settle such jobs. Only what cannot name any job is refused.

    Raises:
        InvalidIdError: not a str, empty, or a lone surrogate that is not an escaped byte.
    """
    if type(value) is str and value:
        try:
            return value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            pass
    if not isinstance(value, str):
        raise InvalidIdError(
            f"an {what} must be a str, not {type(value).__name__}; convert it with str() first"
        )
    if not value:
        raise InvalidIdError(f"an {what} must not be empty")
    return id_bytes(value, what=what)


def id_bytes(value: str, *, what: str = "id") -> bytes:
    """``id_bytes("job-1")`` -> ``b"job-1"``: the id as sent to Redis.

    Ids read back from Redis are decoded with ``surrogateescape`` (see
    :func:`id_text`), so an id written by another client as arbitrary bytes
    round-trips unchanged.

    Raises:
        InvalidIdError: the str holds a lone surrogate that is not an escaped byte.
    """
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise InvalidIdError(
            f"{what} {value!r} is not valid UTF-8 (it holds a lone surrogate); use real characters"
        ) from None


def id_text(raw: bytes) -> str:
    """``id_text(b"job-1")`` -> ``"job-1"``: an id read from Redis, reversible by id_bytes."""
    return raw.decode("utf-8", "surrogateescape")
