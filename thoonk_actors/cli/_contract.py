"""``thoonk contract TYPE NAME``: the Redis keys and pub/sub channels of one object.

Synopsis::

    thoonk contract job emails              # keys (type, role), channels (payload)
    thoonk contract feed news --cluster     # the hash-tagged names of cluster mode
    thoonk contract queue tasks --json

For people writing a client in another language. Needs no Redis: the names
come from ``contract.KEYS_BY_KIND`` (where every name is built), the
descriptions from ``_layout``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..contract import KEYS_BY_KIND, AnyKeys, JobKeys, Kind, channel
from ._common import (
    EXIT_OK,
    TYPE_NAMES,
    Subparsers,
    add_command,
    add_json,
    emit,
    emit_json,
    object_type,
    table,
)
from ._layout import CHANNELS, KEYS, REGISTRY, RESULT

_NOTES = (
    "Times are integer ms since the Unix epoch, from the Redis server clock. "
    "\\0 is one NUL byte; readers split a payload at the first NUL only. "
    "Every change is one atomic Lua script (docs/contract.md)."
)
_CLUSTER_NOTE = (
    "Cluster mode: every key of the object shares the slot of its {name} hash tag; the "
    "registry set lives elsewhere, so clients update it with a separate SADD / SREM."
)


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    contract = add_command(
        commands,
        "contract",
        common,
        help="print the Redis keys and pub/sub channels of one object (no Redis needed)",
        description=(
            "Print the key and channel layout of one object, for people writing clients in "
            "other languages: each key with its Redis type and what it holds, each channel "
            "with its payload format. 'original' marks what the original Thoonk uses; 'ext' "
            "our extensions, which original clients ignore. Talks to no server."
        ),
        examples="""\
  thoonk contract job emails
  thoonk contract feed news --cluster
  thoonk contract sorted-feed playlist --json | jq -r '.keys[].key'
""",
    )
    contract.add_argument(
        "type", metavar="TYPE", type=object_type, help="job, feed, sorted-feed or queue"
    )
    contract.add_argument("name", metavar="NAME", help="the object's name")
    contract.add_argument(
        "--cluster",
        action="store_true",
        help="the names of cluster mode (the object name as a hash tag: job.ids:{emails})",
    )
    contract.add_argument(
        "--url",
        metavar="URL",
        help="accepted like every command's --url, and ignored: the layout needs no server",
    )
    add_json(contract, "the layout")
    contract.set_defaults(handler=_contract)


def _contract(args: argparse.Namespace) -> int:
    layout = describe(args.type, args.name, cluster=args.cluster)
    if args.json:
        emit_json(layout)
    else:
        emit(render(layout, KEYS_BY_KIND[args.type].of(args.name).label))
    return EXIT_OK


def describe(kind: Kind, name: str, *, cluster: bool = False) -> dict[str, Any]:
    """The layout of one object as plain data (what ``--json`` prints).

    Raises:
        InvalidNameError: the name breaks the contract's naming rule.
    """
    keys = KEYS_BY_KIND[kind].of(name, cluster=cluster)
    return {
        "type": TYPE_NAMES[kind],
        "name": name,
        "cluster": cluster,
        "keys": [
            {
                "key": key_name(keys, info.field),
                "redis_type": info.redis_type,
                "role": info.role,
                "origin": info.origin,
            }
            for info in KEYS[kind]
        ],
        "channels": [
            {
                "channel": channel(kind, info.event, name),
                "event": info.event,
                "payload": info.payload,
                "meaning": info.meaning,
                "origin": info.origin,
            }
            for info in CHANNELS[kind]
        ],
    }


def key_name(keys: AnyKeys, field: str) -> str:
    """The Redis key behind one field of ``_layout.KEYS`` (``<id>`` stands for a job id)."""
    if field == REGISTRY:
        return keys.registry
    if field == RESULT and isinstance(keys, JobKeys):
        return keys.result("<id>")
    name: str = getattr(keys, field)
    return name


def render(layout: dict[str, Any], label: str) -> str:
    """The layout as two tables (keys, channels) and the notes that apply."""
    mode = "Redis Cluster" if layout["cluster"] else "standalone (--cluster: Redis Cluster)"
    head = f"The keys and channels of {label}, {mode} key names:"
    keys = [["KEY", "TYPE", "ORIGIN", "HOLDS"]]
    keys += [[k["key"], k["redis_type"], k["origin"], k["role"]] for k in layout["keys"]]
    channels = [["CHANNEL", "PAYLOAD", "ORIGIN", "SENT WHEN"]]
    channels += [
        [c["channel"], c["payload"], c["origin"], c["meaning"]] for c in layout["channels"]
    ]
    notes = [_NOTES, *([_CLUSTER_NOTE] if layout["cluster"] else [])]
    return "\n\n".join([head, table(keys, right=99), table(channels, right=99), *notes])
