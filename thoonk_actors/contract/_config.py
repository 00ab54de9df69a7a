"""Config of each object type: validation before any Redis call, and typed reads.

Synopsis::

    fields = validate_config("job", {"timeout": 30_000, "max_cancels": 3})
    # {"timeout": "30000", "max_cancels": "3"}; None as a value removes the field
    config = parse_config("job", {b"timeout": b"30000"}, obj="job queue 'emails'")
    # JobConfig(timeout=30000, max_cancels=10, result_ttl=600000, retry_delay=1000, ...)

Stored as decimal strings in the ``<type>.config:<name>`` hash; the scripts read
them there. The field ``created`` (ms) is written by create and is not a setting.

Every setting is an int in a range that Redis and Lua both represent exactly:
Lua numbers are doubles (exact to 2**53), and a script adds a time setting to
the server clock (~2**41 ms today), so a time setting is at most
:data:`MAX_MS` (2**40 ms, about 34 years) and a count at most :data:`MAX_COUNT`.
A value out of range is refused with :class:`InvalidConfigError` before
anything is sent (``result_ttl=2**63`` would wrap negative in Lua, and
``PEXPIRE`` with a negative time deletes the result at once).
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from dataclasses import dataclass

from .._errors import BadStoredConfigError, InvalidConfigError
from ._keys import KIND_LABELS, Kind

#: Largest time setting in ms (2**40 ms, ~34.8 years): now + it stays exact in Lua.
MAX_MS = 2**40
#: Largest count setting (max_cancels, max_length): a signed 32-bit int.
MAX_COUNT = 2**31 - 1
#: Largest retry_factor (the backoff multiplier per failure).
MAX_FACTOR = 1000

DEFAULT_RESULT_TTL_MS = 600_000
#: A job that failed this many times is stalled with its last error (0 = no limit).
DEFAULT_MAX_CANCELS = 10
#: Retry backoff: the first retry waits retry_delay ms, each next one retry_factor
#: times longer, at most retry_delay_max ms, plus 0-25 % jitter.
DEFAULT_RETRY_DELAY_MS = 1_000
DEFAULT_RETRY_DELAY_MAX_MS = 300_000
DEFAULT_RETRY_FACTOR = 2
#: Largest max_per_second (claims started per second across every worker).
MAX_RATE = 1_000_000
#: Largest ``durable`` (replicas a publish waits for): far more than any
#: deployment runs, small enough that a misplaced time setting is refused.
MAX_DURABLE_REPLICAS = 100
#: How long a durable publish waits for its replicas by default, ms.
DEFAULT_DURABLE_TIMEOUT_MS = 1_000


@dataclass(frozen=True, slots=True)
class JobConfig:
    """A job queue's config.

    Attributes:
        timeout: ms a claim may last without a touch before a reaper takes it
            back, for claims that carry no lease of their own (original JS
            workers, ``get()``); 0 = never. Our runtime's claims carry the
            worker's own lease.
        max_cancels: the failure count at which a job is stalled instead of
            retried; 0 = no limit.
        result_ttl: ms a finished job's result stays readable.
        retry_delay: ms a failed job waits before it is queued again (0 = at once).
        retry_delay_max: the longest wait, ms.
        retry_factor: each further failure waits this many times longer.
        max_per_second: claims started per second across every worker, process
            and machine (0 = unlimited); enforced by the claim script on the
            server clock, with a burst of at most 100 ms worth of claims.
        max_concurrent: jobs claimed at once across every worker (0 = unlimited);
            the claim script compares it with the claimed count.
        durable: replicas that must acknowledge each publish before it
            returns (Redis ``WAIT``; 0 = do not wait): what ``publish`` and
            ``publish_many`` do when the call gives no ``durable``. Read by our
            publishers only (the scripts and original clients ignore it).
        durable_timeout: ms a durable publish waits for them (the default of
            the call's ``durable_timeout``).
    """

    timeout: int = 0
    max_cancels: int = DEFAULT_MAX_CANCELS
    result_ttl: int = DEFAULT_RESULT_TTL_MS
    retry_delay: int = DEFAULT_RETRY_DELAY_MS
    retry_delay_max: int = DEFAULT_RETRY_DELAY_MAX_MS
    retry_factor: int = DEFAULT_RETRY_FACTOR
    max_per_second: int = 0
    max_concurrent: int = 0
    durable: int = 0
    durable_timeout: int = DEFAULT_DURABLE_TIMEOUT_MS


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

# field -> (smallest, largest) allowed value; every setting is an int.
RANGES: dict[Kind, dict[str, tuple[int, int]]] = {
    "job": {
        "timeout": (0, MAX_MS),
        "max_cancels": (0, MAX_COUNT),
        "result_ttl": (1, MAX_MS),
        "retry_delay": (0, MAX_MS),
        "retry_delay_max": (0, MAX_MS),
        "retry_factor": (1, MAX_FACTOR),
        "max_per_second": (0, MAX_RATE),
        "max_concurrent": (0, MAX_COUNT),
        "durable": (0, MAX_DURABLE_REPLICAS),
        "durable_timeout": (1, MAX_MS),
    },
    "feed": {"max_length": (1, MAX_COUNT)},
    "sorted_feed": {},
    "queue": {},
}

#: field -> what its value means (unit, special values), for messages and help texts.
MEANINGS: dict[str, str] = {
    "timeout": "ms, 0 = claims without a lease never time out",
    "max_cancels": "failures before a job is stalled, 0 = no limit",
    "result_ttl": "ms a finished job's result stays readable",
    "retry_delay": "ms before a failed job is retried, 0 = at once",
    "retry_delay_max": "ms, the longest retry backoff",
    "retry_factor": "each retry waits this many times longer",
    "max_length": "items kept, the oldest evicted; unset = no bound",
    "max_per_second": "claims per second across all workers, 0 = unlimited",
    "max_concurrent": "jobs claimed at once across all workers, 0 = unlimited",
    "durable": "replicas that must acknowledge each publish, 0 = do not wait",
    "durable_timeout": "ms a durable publish waits for its replicas",
}


def validate_config(kind: Kind, changes: Mapping[str, object]) -> dict[str, str | None]:
    """``validate_config("feed", {"max_length": 100})`` -> ``{"max_length": "100"}``.

    A value of None means "remove the field" (back to the default).

    Raises:
        InvalidConfigError: an unknown field, or a value that is not an int in range.
    """
    rules = RANGES[kind]
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
        low, high = rules[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidConfigError(
                f"{KIND_LABELS[kind]} setting {field!r} must be an int from {low} to {high} "
                f"({MEANINGS[field]}), not {reprlib.repr(value)}"
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
    for field, (low, high) in RANGES[kind].items():
        raw = stored.get(field.encode())
        if raw is None:
            continue
        try:
            number = int(raw)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise BadStoredConfigError(
                f"config field {field!r} of {obj} holds {raw!r}, which is not an int from "
                f"{low} to {high}; another program wrote it. Set it again with config()"
            )
        values[field] = number
    if kind == "job":
        return JobConfig(**values)
    if kind == "feed":
        return FeedConfig(**values)
    if kind == "sorted_feed":
        return SortedFeedConfig()
    return QueueConfig()
