"""Registry and lifecycle of every object type: create, config, delete, read config.

Synopsis::

    call = object_create(JobKeys.of("emails"), {"timeout": 30_000}, exist_ok=True)
    created = call.decode(reply)            # True, or False when it existed
    object_configure(keys, {"max_cancels": 3})      -> Call[None]
    object_delete(keys)                             -> Call[bool] (something was there)
    object_config(keys)                             -> Command[JobConfig] (HGETALL)
    job_durability(keys)                            -> Command[(durable, durable_timeout)]

Config values are validated before anything is built (InvalidConfigError).
Events: ``event.<type>.config:<name>`` (payload: compact JSON of the fields set,
null for a removed field) on create and config; ``event.<type>.delete:<name>``
(payload: the name) on delete.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import overload

from ._build import layout, make_call, ok_values
from ._call import Call, Command, Reply, as_bytes, as_int, as_list, unexpected
from ._config import (
    AnyConfig,
    FeedConfig,
    JobConfig,
    QueueConfig,
    SortedFeedConfig,
    parse_config,
    validate_config,
)
from ._keys import AnyKeys, FeedKeys, JobKeys, QueueKeys, SortedFeedKeys

layout("object/create", ("config",))
layout("object/config", ("config",))
layout("object/delete", ())


def _payload(fields: Mapping[str, str | None]) -> bytes:
    data = {k: None if v is None else int(v) for k, v in fields.items()}
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


def object_create(
    keys: AnyKeys, config: Mapping[str, object] | None = None, *, exist_ok: bool = False
) -> Call[bool]:
    """``object_create(keys, {"timeout": 30_000})``: register the object and store its config.

    The decoded reply is True when it was created, False when it already existed
    and ``exist_ok`` (its config is then left as it was).

    Raises:
        InvalidConfigError: (now) an unknown setting or a bad value.
        ObjectExistsError: (decode) it exists and not ``exist_ok``.
    """
    fields = {k: v for k, v in validate_config(keys.kind, config or {}).items() if v is not None}
    pairs: list[str] = [x for item in fields.items() for x in item]

    def decode(reply: Reply) -> bool:
        values = ok_values(reply, script="object/create", obj=keys.label, op="create")
        return as_int(values[0], "object/create") == 1 if values else False

    return make_call(
        "object/create",
        keys,
        [keys.name, exist_ok, keys.channel("config"), _payload(fields), *pairs],
        decode,
        registry=True,
        cluster_after=("SADD", keys.registry, keys.name),
    )


def object_configure(keys: AnyKeys, changes: Mapping[str, object]) -> Call[None]:
    """``object_configure(keys, {"max_length": None})``: set (or with None remove) settings.

    Raises:
        InvalidConfigError: (now) an unknown setting or a bad value.
        NoSuchObjectError: (decode) the object was never created.
    """
    fields = validate_config(keys.kind, changes)
    sets = [x for k, v in fields.items() if v is not None for x in (k, v)]
    removes = [k for k, v in fields.items() if v is None]

    def decode(reply: Reply) -> None:
        ok_values(reply, script="object/config", obj=keys.label, op="config")

    return make_call(
        "object/config",
        keys,
        [keys.name, keys.channel("config"), _payload(fields), len(sets) // 2, *sets, *removes],
        decode,
        registry=True,
    )


def object_delete(keys: AnyKeys) -> Call[bool]:
    """``object_delete(keys)``: delete every key of the object and its registry entry.

    Job result keys (``job.result:{<name>}:<id>``) are not enumerable and expire
    on their own. The decoded reply is True when anything was there.
    """
    all_keys = keys.all_keys()

    def decode(reply: Reply) -> bool:
        values = ok_values(reply, script="object/delete", obj=keys.label, op="delete")
        return bool(values) and as_int(values[0], "object/delete") == 1

    return make_call(
        "object/delete",
        keys,
        [keys.name, keys.channel("delete"), len(all_keys)],
        decode,
        extra_keys=all_keys,
        registry=True,
        cluster_after=("SREM", keys.registry, keys.name),
    )


@overload
def object_config(keys: JobKeys) -> Command[JobConfig]: ...
@overload
def object_config(keys: FeedKeys) -> Command[FeedConfig]: ...
@overload
def object_config(keys: SortedFeedKeys) -> Command[SortedFeedConfig]: ...
@overload
def object_config(keys: QueueKeys) -> Command[QueueConfig]: ...
def object_config(keys: AnyKeys) -> Command[AnyConfig]:  # type: ignore[misc]
    """``object_config(keys)``: read the typed config (defaults for unset fields).

    Raises:
        BadStoredConfigError: (decode) a stored field is not a valid value.
    """

    def decode(reply: Reply) -> AnyConfig:
        flat = as_list(reply, "HGETALL config")
        stored = {
            as_bytes(flat[i], "HGETALL config"): as_bytes(flat[i + 1], "HGETALL config")
            for i in range(0, len(flat) - 1, 2)
        }
        return parse_config(keys.kind, stored, obj=keys.label)

    return Command(args=("HGETALL", keys.config), keys=(keys.config,), decode=decode)


#: The two settings a publisher reads (durable publishes by the queue's config).
DURABILITY_FIELDS = ("durable", "durable_timeout")


def job_durability(keys: JobKeys) -> Command[tuple[int, int]]:
    """``job_durability(keys)``: the queue's ``(durable, durable_timeout ms)``, defaults if unset.

    Only those two fields are read (HMGET), so a bad value another program
    left in an unrelated setting does not stop publishes.

    Raises:
        BadStoredConfigError: (decode) one of the two holds an invalid value.
    """

    def decode(reply: Reply) -> tuple[int, int]:
        values = as_list(reply, "HMGET config")
        if len(values) != len(DURABILITY_FIELDS):
            raise unexpected("HMGET config", reply)
        stored = {
            field.encode(): as_bytes(value, "HMGET config")
            for field, value in zip(DURABILITY_FIELDS, values, strict=True)
            if value is not None
        }
        config = parse_config("job", stored, obj=keys.label)
        assert isinstance(config, JobConfig)
        return config.durable, config.durable_timeout

    return Command(
        args=("HMGET", keys.config, *DURABILITY_FIELDS), keys=(keys.config,), decode=decode
    )
