"""Every Redis key and pub/sub channel name of the contract, and only here.

Synopsis::

    keys = JobKeys.of("emails")                  # standalone: job.ids:emails
    keys = JobKeys.of("emails", cluster=True)    # cluster:    job.ids:{emails}
    keys.ids, keys.result("job-1"), keys.channel("finish"), keys.all_keys()

Standalone mode uses the original names, so original clients share the objects.
Cluster mode wraps the name in a hash tag so that one object's keys share a
slot and one script may touch them all. Channels always keep the plain name.
The registry set (``jobs``, ``feeds``, ...) has no name in it, so in cluster
mode it lives in another slot; scripts then leave it out (see ``_call.Call.after``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Literal, Self

from ._names import validate_name

Kind = Literal["job", "feed", "sorted_feed", "queue"]

#: The registry set of each object type.
REGISTRIES: dict[Kind, str] = {
    "job": "jobs",
    "feed": "feeds",
    "sorted_feed": "sorted_feeds",
    "queue": "queues",
}

#: What a person calls each object type, for error messages.
KIND_LABELS: dict[Kind, str] = {
    "job": "job queue",
    "feed": "feed",
    "sorted_feed": "sorted feed",
    "queue": "queue",
}

#: Discovery: the key that marks an object of each type when no registry names it.
#: The ``publishes`` counter is written by every publish of every client (the
#: original JavaScript Thoonk Jobs included, which never writes ``jobs``) and
#: removed only by delete, so it outlives every job, item and claim. SCAN with
#: this MATCH (and ``TYPE string``) finds them; see :func:`discovered`.
DISCOVERY_PATTERNS: dict[Kind, str] = {kind: f"{kind}.publishes:*" for kind in REGISTRIES}
#: One MATCH for every type at once: one SCAN pass instead of one per type.
DISCOVERY_PATTERN_ALL = "*.publishes:*"


def discovered(key: bytes, *, cluster: bool = False) -> tuple[Kind, str] | None:
    """``discovered(b"job.publishes:emails")`` -> ``("job", "emails")``; None if no object's.

    The inverse of the ``publishes`` key name: the type and the object name, or
    None when ``key`` is not such a key (another program's key that the
    pattern matched, a cluster-mode key in standalone mode or the other way
    round, a name that is not UTF-8). The name is NOT validated here: the caller
    reports a name that breaks the rule (:func:`validate_name`).
    """
    for kind in REGISTRIES:
        prefix = f"{kind}.publishes:".encode()
        if key.startswith(prefix):
            raw = key[len(prefix) :]
            if cluster:
                if not (raw.startswith(b"{") and raw.endswith(b"}")):
                    return None
                raw = raw[1:-1]
            try:
                name = raw.decode()
            except UnicodeDecodeError:
                return None
            return (kind, name) if name else None
    return None


# Fields of a keys object that are not per-object keys.
_NOT_KEYS = frozenset({"name", "cluster", "registry"})


def channel(kind: Kind, event: str, name: str) -> str:
    """``channel("job", "finish", "emails")`` -> ``"event.job.finish:emails"``."""
    return f"event.{kind}.{event}:{name}"


@dataclass(frozen=True, slots=True)
class ObjectKeys:
    """Keys shared by every object type; use a subclass's ``of(name)``."""

    KIND: ClassVar[Kind]
    name: str
    cluster: bool
    registry: str
    config: str

    @classmethod
    def of(cls, name: str, *, cluster: bool = False) -> Self:
        """``FeedKeys.of("news")``: every key of the object named ``name``.

        Raises:
            InvalidNameError: the name breaks the contract's naming rule.
        """
        validate_name(name, kind=KIND_LABELS[cls.KIND])
        tag = f"{{{name}}}" if cluster else name
        names = {
            f.name: f"{cls.KIND}.{f.name}:{tag}"
            for f in dataclasses.fields(cls)
            if f.name not in _NOT_KEYS
        }
        return cls(name=name, cluster=cluster, registry=REGISTRIES[cls.KIND], **names)

    @property
    def kind(self) -> Kind:
        """The object type, e.g. ``"job"``."""
        return self.KIND

    @property
    def label(self) -> str:
        """``"job queue 'emails'"``: how messages name this object."""
        return f"{KIND_LABELS[self.KIND]} {self.name!r}"

    def channel(self, event: str) -> str:
        """``keys.channel("publish")`` -> ``"event.<kind>.publish:<name>"`` (plain name)."""
        return channel(self.KIND, event, self.name)

    def all_keys(self) -> tuple[str, ...]:
        """Every per-object key, config first (what delete removes; not the registry)."""
        return tuple(
            getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _NOT_KEYS
        )


@dataclass(frozen=True, slots=True)
class JobKeys(ObjectKeys):
    """Keys of a job queue: the original thoonk-jobs keys, then our extensions (ext).

    ``owners`` hash id -> ``worker_id:token``; ``workers`` zset worker id ->
    heartbeat ms; ``errors`` hash id -> last error text or reap reason;
    ``orphans`` hash id -> ms when the reaper first saw it in no state;
    ``tokens`` counter of claim tokens; ``leases`` hash id -> the lease (ms)
    the claimer chose for that claim (the reaper's deadline is claim time +
    lease; claims without one fall back to the config ``timeout``);
    ``scheduled`` zset id -> ms (server clock) when the job goes back to
    ``ids`` (retry backoff, delayed publish); ``ticks`` hash schedule name ->
    ``"<last tick ms> <spec>"`` (recurring jobs: a tick is published once);
    ``seen`` hash id -> ``"<server ms> <claim score>"``: when a reap sweep first
    saw that claim without an owner (an original client's claim, whose score is
    the client's clock), so the reaper times such claims by the server clock.
    ``limits`` hash of the claim limiter (``tat``: the rate limit's theoretical
    arrival time in ms, ``held`` / ``held_ms``: why and when a claim was last
    held back by ``max_per_second`` / ``max_concurrent``).
    ``progress`` hash id -> ``"fraction NUL ms NUL info"``, the last progress
    a handler reported for its claim (removed when the claim ends). Per
    job, :meth:`result_key`
    (a hash that expires after ``result_ttl``).
    """

    KIND: ClassVar[Kind] = "job"
    ids: str
    items: str
    published: str
    claimed: str
    cancelled: str
    stalled: str
    publishes: str
    finishes: str
    owners: str
    workers: str
    errors: str
    orphans: str
    tokens: str
    leases: str
    scheduled: str
    ticks: str
    seen: str
    limits: str
    progress: str

    def result(self, id: str) -> str:
        """``job.result:{<name>}:<id>``: the stored outcome of one job (ext).

        The name is always inside braces, in standalone mode too: names may hold
        ``:`` and ids may too, and the brace (never part of a name) keeps
        ``job.result:{a}:b:c`` and ``job.result:{a:b}:c`` apart.
        """
        return f"job.result:{{{self.name}}}:{id}"

    def result_key(self, id: str) -> bytes:
        """:meth:`result` as the bytes sent to Redis: what every builder uses.

        Ids may hold any bytes (another client wrote them; ``id_text`` escapes
        the ones that are not UTF-8), so the key is built as bytes, never as
        text that the transport would have to encode (it could not).
        """
        return b"job.result:{%s}:%s" % (self.name.encode(), id.encode("utf-8", "surrogateescape"))


@dataclass(frozen=True, slots=True)
class FeedKeys(ObjectKeys):
    """Keys of a feed (the Lua-era thoonk.js feed keys)."""

    KIND: ClassVar[Kind] = "feed"
    ids: str
    items: str
    publishes: str


@dataclass(frozen=True, slots=True)
class SortedFeedKeys(ObjectKeys):
    """Keys of a sorted feed (ext naming; ``ids`` is a list in manual order).

    ``seq`` counts every change (each write script adds 1 and its events carry
    the value), so a reader can tell which events a snapshot already holds.
    """

    KIND: ClassVar[Kind] = "sorted_feed"
    ids: str
    items: str
    idincr: str
    publishes: str
    seq: str


@dataclass(frozen=True, slots=True)
class QueueKeys(ObjectKeys):
    """Keys of a queue (ext naming)."""

    KIND: ClassVar[Kind] = "queue"
    ids: str
    items: str
    publishes: str


AnyKeys = JobKeys | FeedKeys | SortedFeedKeys | QueueKeys

#: The keys class of each object type.
KEYS_BY_KIND: dict[Kind, type[AnyKeys]] = {
    "job": JobKeys,
    "feed": FeedKeys,
    "sorted_feed": SortedFeedKeys,
    "queue": QueueKeys,
}
