"""What each key and channel of an object is for: the table ``thoonk contract`` prints.

Synopsis::

    for key in KEYS["job"]: key.field, key.redis_type, key.role, key.origin
    for ch in CHANNELS["feed"]: ch.event, ch.payload, ch.meaning, ch.origin

Key *names* are not here: they come from ``contract.KEYS_BY_KIND`` (built in
one place, ``contract/_keys.py``); this table only describes them, and a test
checks that it describes every key and every event of every type. ``\\0`` in a
payload is one NUL byte; readers split at the first NUL only. ``origin`` is
``original`` (the original Thoonk uses it; keep it exactly) or ``ext`` (our
extension; original clients ignore it).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..contract import Kind

#: Fields that are not attributes of the keys object: the registry set and the
#: per-job result key (``JobKeys.result(id)``).
REGISTRY = "registry"
RESULT = "result"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One key: the keys-object field it comes from, its Redis type, what it holds."""

    field: str
    redis_type: str
    role: str
    origin: str = "original"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One pub/sub event: its name, its payload format, when it is sent."""

    event: str
    payload: str
    meaning: str
    origin: str = "original"


_CONFIG_EVENTS = (
    ChannelInfo("config", "JSON of the changed fields (null: removed)",
                "its config changed (also sent on create)", "ext"),
    ChannelInfo("delete", "the object's name", "the object and all its keys were deleted",
                "ext"),
)  # fmt: skip

KEYS: dict[Kind, tuple[KeyInfo, ...]] = {
    "job": (
        KeyInfo(REGISTRY, "set", "registry: the names of all job queues"),
        KeyInfo("config", "hash", "config: timeout (ms, 0 = claims never expire; the lease of "
                "claims that carry none), max_cancels (default 10, 0 = no limit), result_ttl "
                "(ms), retry_delay / retry_delay_max (ms) and retry_factor (backoff), "
                "max_per_second / max_concurrent (limits of our claims, 0 = none), "
                "created (ms)"),
        KeyInfo("ids", "list", "queued ids: publish, cancel and retry push left; priority "
                "publish and release push right; claims pop from the right"),
        KeyInfo("items", "hash", "id -> item (JSON text)"),
        KeyInfo("published", "zset", "id -> publish time (ms)"),
        KeyInfo("claimed", "zset", "id -> claim time (ms)"),
        KeyInfo("cancelled", "hash", "id -> cancel count (failures)"),
        KeyInfo("stalled", "set", "stalled ids"),
        KeyInfo("publishes", "string", "counter of publishes"),
        KeyInfo("finishes", "string", "counter of finishes"),
        KeyInfo("owners", "hash", "id -> 'worker_id:token' of claims made by our workers",
                "ext"),
        KeyInfo("workers", "zset", "worker id -> last heartbeat (ms)", "ext"),
        KeyInfo("errors", "hash", "id -> last error text or reap reason", "ext"),
        KeyInfo("orphans", "hash", "id -> when it was first seen in no state (ms; finds jobs "
                "lost between an original worker's pop and its claim)", "ext"),
        KeyInfo("tokens", "string", "counter of claim tokens", "ext"),
        KeyInfo("leases", "hash", "id -> lease (ms) chosen by the worker that claimed it; "
                "reaped at claim time + lease (else the config timeout)", "ext"),
        KeyInfo("scheduled", "zset", "id -> when it goes back to ids (ms, server clock): "
                "failed jobs waiting out their retry backoff, delayed jobs", "ext"),
        KeyInfo("ticks", "hash", "schedule name -> '<last tick ms> <spec>' of a recurring "
                "job (@app.every / @app.cron): each tick is published once", "ext"),
        KeyInfo("seen", "hash", "id -> '<server ms> <claim score>': when a reap sweep first "
                "saw that claim without an owner (an original client's); reaped at that "
                "server time + the config timeout", "ext"),
        KeyInfo("limits", "hash", "the claim limiter: tat (ms, the max_per_second "
                "schedule), held / held_ms (why and when a claim was last held back)", "ext"),
        KeyInfo("progress", "hash", "id -> 'fraction\\0ms\\0info': the last progress the "
                "handler of a claimed job reported; removed when the claim ends", "ext"),
        KeyInfo(RESULT, "hash", "one per finished or retracted job: state (finished / "
                "retracted), at (ms), result; expires after result_ttl", "ext"),
    ),
    "feed": (
        KeyInfo(REGISTRY, "set", "registry: the names of all feeds"),
        KeyInfo("config", "hash", "config: max_length (>= 1; unset = unbounded), created (ms)"),
        KeyInfo("ids", "zset", "id -> publish time (ms): the feed's order, oldest first"),
        KeyInfo("items", "hash", "id -> item (JSON text)"),
        KeyInfo("publishes", "string", "counter of publishes and edits"),
    ),
    "sorted_feed": (
        KeyInfo(REGISTRY, "set", "registry: the names of all sorted feeds", "ext"),
        KeyInfo("config", "hash", "config: created (ms)", "ext"),
        KeyInfo("ids", "list", "ids in the feed's order, first to last", "ext"),
        KeyInfo("items", "hash", "id -> item (JSON text)", "ext"),
        KeyInfo("idincr", "string", "counter for generated ids ('1', '2', ...)", "ext"),
        KeyInfo("publishes", "string", "counter of publishes", "ext"),
        KeyInfo("seq", "string", "counter of changes; every event carries it", "ext"),
    ),
    "queue": (
        KeyInfo(REGISTRY, "set", "registry: the names of all queues", "ext"),
        KeyInfo("config", "hash", "config: created (ms)", "ext"),
        KeyInfo("ids", "list", "queued ids: put pushes left, priority put pushes right, get "
                "pops from the right", "ext"),
        KeyInfo("items", "hash", "id -> item (JSON text); get removes both in one script",
                "ext"),
        KeyInfo("publishes", "string", "counter of puts", "ext"),
    ),
}  # fmt: skip

CHANNELS: dict[Kind, tuple[ChannelInfo, ...]] = {
    "job": (
        ChannelInfo("publish", "id", "a job was queued (the item is not sent)", "ext"),
        ChannelInfo("claim", "id", "a worker claimed it", "ext"),
        ChannelInfo("finish", "id, or id\\0result", "it was finished (what JS producers wait "
                    "for)"),
        ChannelInfo("cancel", "id\\0count", "it was given back; count = its failures", "ext"),
        ChannelInfo("stall", "id", "it was put aside", "ext"),
        ChannelInfo("retry", "id", "a stalled job was queued again", "ext"),
        ChannelInfo("retract", "id", "it was removed", "ext"),
        ChannelInfo("release", "id", "a worker gave it back without a failure", "ext"),
        ChannelInfo("schedule", "id\\0due_ms", "a delayed job was published; it is "
                    "queued at due_ms (server clock)", "ext"),
        ChannelInfo("progress", "id\\0fraction\\0ms\\0info", "the handler of a claimed job "
                    "reported how far it got (info: JSON text, may be empty)", "ext"),
        *_CONFIG_EVENTS,
    ),
    "feed": (
        ChannelInfo("publish", "id\\0item", "a new item"),
        ChannelInfo("edit", "id\\0item", "an existing id was published again (it moves to "
                    "the newest place)"),
        ChannelInfo("retract", "id", "an item was removed, or evicted by max_length"),
        *_CONFIG_EVENTS,
    ),
    "sorted_feed": (
        ChannelInfo("publish", "id\\0seq\\0item", "a new item (a position event with the "
                    "same seq follows)", "ext"),
        ChannelInfo("edit", "id\\0seq\\0item", "an item was replaced in place", "ext"),
        ChannelInfo("retract", "id\\0seq", "an item was removed", "ext"),
        ChannelInfo("position", "id\\0seq\\0where[\\0anchor]", "an item was placed or "
                    "moved; where is begin, end, before or after (then the anchor id)", "ext"),
        *_CONFIG_EVENTS,
    ),
    "queue": _CONFIG_EVENTS,  # no item events: a queue is point-to-point
}  # fmt: skip
