"""Config of each object type: validation before any Redis call, and typed reads.

Synopsis::

    fields = validate_config("job", {"timeout": 30_000, "max_cancels": 3})
    # {"timeout": "30000", "max_cancels": "3"}; None as a value removes the field
    config = parse_config("job", {b"timeout": b"30000"}, obj="job queue 'emails'")
    # JobConfig(timeout=30000, max_cancels=0, result_ttl=600000)

Stored as decimal strings in the ``<type>.config:<name>`` hash; the scripts read
them there (``timeout``, ``max_cancels``, ``result_ttl``, ``max_length``). The
field ``created`` (ms) is written by create and is not a setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .._errors import BadStoredConfigError, InvalidConfigError
from ._keys import KIND_LABELS, Kind

DEFAULT_RESULT_TTL_MS = 600_000


@dataclass(frozen=True, slots=True)
class JobConfig:
    """A job queue's config.

    Attributes:
        timeout: ms a claim may last before the reaper takes it back; 0 = never.
        max_cancels: the cancel count at which a job is stalled instead; 0 = no limit.
        result_ttl: ms a finished job's result stays readable.
    """

    timeout: int = 0
    max_cancels: int = 0
    result_ttl: int = DEFAULT_RESULT_TTL_MS


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """A feed's config. ``max_length``: most items kept (oldest evicted); None = no bound."""

    max_length: int | None = None


@dataclass(frozen=True, slots=True)
class SortedFeedConfig:
    """A sorted feed's config (no settings yet)."""


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue's config (no settings yet)."""


AnyConfig = JobConfig | FeedConfig | SortedFeedConfig | QueueConfig

# field -> smallest allowed value; every setting is an int.
_RULES: dict[Kind, dict[str, int]] = {
    "job": {"timeout": 0, "max_cancels": 0, "result_ttl": 1},
    "feed": {"max_length": 1},
    "sorted_feed": {},
    "queue": {},
}

_MEANING = {
    "timeout": "ms, 0 = never time out",
    "max_cancels": "0 = no limit",
    "result_ttl": "ms, at least 1",
    "max_length": "items, at least 1",
}


def validate_config(kind: Kind, changes: Mapping[str, object]) -> dict[str, str | None]:
    """``validate_config("feed", {"max_length": 100})`` -> ``{"max_length": "100"}``.

    A value of None means "remove the field" (back to the default).

    Raises:
        InvalidConfigError: an unknown field, or a value that is not an int in range.
    """
    rules = _RULES[kind]
    fields: dict[str, str | None] = {}
    for field, value in changes.items():
        if field not in rules:
            known = ", ".join(sorted(rules)) or "none"
            raise InvalidConfigError(
                f"{field!r} is not a {KIND_LABELS[kind]} setting; the settings are: {known}"
            )
        if value is None:
            fields[field] = None
            continue
        low = rules[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidConfigError(
                f"{KIND_LABELS[kind]} setting {field!r} must be an int >= {low} "
                f"({_MEANING[field]}), not {value!r}"
            )
        fields[field] = str(value)
    return fields


def parse_config(kind: Kind, stored: Mapping[bytes, bytes], *, obj: str) -> AnyConfig:
    """The typed config from a ``HGETALL <type>.config:<name>`` reply (as a mapping).

    Unknown stored fields (``created``, fields of other clients) are ignored.

    Raises:
        BadStoredConfigError: a known field holds something that is not a valid int.
    """
    values: dict[str, int] = {}
    for field, low in _RULES[kind].items():
        raw = stored.get(field.encode())
        if raw is None:
            continue
        try:
            number = int(raw)
        except ValueError:
            number = low - 1
        if number < low:
            raise BadStoredConfigError(
                f"config field {field!r} of {obj} holds {raw!r}, which is not an int >= {low}; "
                "another program wrote it. Set it again with config()"
            )
        values[field] = number
    if kind == "job":
        return JobConfig(**values)
    if kind == "feed":
        return FeedConfig(**values)
    if kind == "sorted_feed":
        return SortedFeedConfig()
    return QueueConfig()
