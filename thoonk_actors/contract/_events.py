"""Reading pub/sub events of the contract (channel names are built in ``_keys``).

Synopsis::

    event = parse_event(b"event.job.finish:emails", b"job-1\\x00\\"done\\"")
    # ContractEvent(kind="job", event="finish", name="emails", id="job-1", data=b'"done"')

Payloads are split at the FIRST NUL only (the original JS split at every NUL
and cut results that held one). For ``config`` and ``delete`` events the
payload is not ``id...``: ``id`` is "" and ``data`` holds the whole payload.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import UnexpectedReplyError
from ._keys import REGISTRIES, Kind
from ._names import id_text

_KINDS: dict[str, Kind] = {kind: kind for kind in REGISTRIES}
_WHOLE_PAYLOAD = frozenset({"config", "delete"})


@dataclass(frozen=True, slots=True)
class ContractEvent:
    """One event: where it came from, the id it is about and the rest of the payload.

    ``data`` is None when the payload had no NUL (e.g. a finish without result,
    a retract); ``b""`` when something empty followed the NUL (an empty result).
    """

    kind: Kind
    event: str
    name: str
    id: str
    data: bytes | None


#: Parsed channels (bytes as read from Redis): an actor's events come on a few
#: channels, parsed once each (bounded: emptied when full).
_PARSED: dict[bytes, tuple[Kind, str, str]] = {}
_PARSED_MAX = 1 << 14


def parse_channel(channel: bytes | str) -> tuple[Kind, str, str]:
    """``parse_channel(b"event.feed.edit:news")`` -> ``("feed", "edit", "news")``.

    The name is everything after the first ``:`` (names may hold ``:``).

    Raises:
        UnexpectedReplyError: not a contract channel.
    """
    if type(channel) is bytes:
        parsed = _PARSED.get(channel)
        if parsed is not None:
            return parsed
    text = channel.decode("utf-8", "surrogateescape") if isinstance(channel, bytes) else channel
    head, sep, name = text.partition(":")
    parts = head.split(".")
    kind = _KINDS.get(parts[1]) if len(parts) == 3 and parts[0] == "event" else None
    if not sep or kind is None or not name or not parts[2]:
        raise UnexpectedReplyError(f"{text!r} is not a Thoonk event channel")
    parsed = (kind, parts[2], name)
    if type(channel) is bytes:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[channel] = parsed
    return parsed


def parse_event(channel: bytes | str, payload: bytes) -> ContractEvent:
    """``parse_event(channel, payload)``: the typed event (see module docstring)."""
    kind, event, name = parse_channel(channel)
    if event in _WHOLE_PAYLOAD:
        return ContractEvent(kind=kind, event=event, name=name, id="", data=payload)
    raw_id, sep, rest = payload.partition(b"\0")
    return ContractEvent(
        kind=kind, event=event, name=name, id=id_text(raw_id), data=rest if sep else None
    )


def parse_sequenced(data: bytes | None, *, what: str) -> tuple[int, bytes | None]:
    """``parse_sequenced(b"7\\x00x", what=...)`` -> ``(7, b"x")``; ``b"7"`` -> ``(7, None)``.

    Sorted feed events carry the feed's change sequence right after the id
    (``id NUL seq [NUL rest]``); ``what`` names the event in the error.

    Raises:
        UnexpectedReplyError: no decimal sequence there (a foreign publisher).
    """
    raw, sep, rest = (data or b"").partition(b"\0")
    if not raw.isdigit():
        raise UnexpectedReplyError(
            f"{what} carries no change sequence (expected 'id NUL seq ...', got "
            f"{data!r} after the id); another program published it"
        )
    return int(raw), rest if sep else None
