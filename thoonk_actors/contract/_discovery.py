"""Finding objects that no registry names, and registering them.

Synopsis::

    cmd = scan_keys(b"0", match=DISCOVERY_PATTERN_ALL, count=1000)
    cursor, keys = cmd.decode(reply)             # SCAN: one bounded step of the walk
    found = [discovered(key) for key in keys]    # ("job", "emails") | None each
    call = object_register(JobKeys.of("emails"))  # Call[bool]: True when it was added

The original JavaScript Thoonk Jobs never writes the ``jobs`` registry, so a
queue only JavaScript uses is in no registry; its keys are still there. SCAN
walks the whole keyspace (O(keyspace) in total), but each step is bounded by
``count``, so the server is never blocked for long; the caller decides how many
steps it may take (see ``Thoonk.discover``). In Redis Cluster every primary has
its own keyspace: the walk is made per node (one cursor each).
"""

from __future__ import annotations

from .._errors import NoSuchObjectError, UsageError
from ._build import layout, make_call, ok_values
from ._call import Call, Command, Reply, as_bytes, as_int, as_list, status, unexpected
from ._keys import AnyKeys

layout("object/register", ())

#: Most keys one SCAN step is asked to look at (the server's work per step).
MAX_SCAN_COUNT = 100_000


def scan_keys(cursor: bytes, *, match: str, count: int) -> Command[tuple[bytes, list[bytes]]]:
    """``scan_keys(b"0", match="job.publishes:*", count=1000)``: one step of a SCAN walk.

    Only string keys are returned (``TYPE string``: every ``publishes`` counter
    is one). The decoded reply is ``(next cursor, keys)``; cursor ``b"0"`` ends
    the walk.

    Raises:
        UsageError: (now) ``count`` is not an int from 1 to 100,000.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SCAN_COUNT:
        raise UsageError(f"count must be an int from 1 to {MAX_SCAN_COUNT:,}, not {count!r}")

    def decode(reply: Reply) -> tuple[bytes, list[bytes]]:
        pair = as_list(reply, "SCAN")
        if len(pair) != 2:
            raise unexpected("SCAN", reply)
        return as_bytes(pair[0], "SCAN"), [as_bytes(k, "SCAN") for k in as_list(pair[1], "SCAN")]

    return Command(
        args=("SCAN", cursor, "MATCH", match, "COUNT", str(count), "TYPE", "string"),
        keys=(),
        decode=decode,
    )


def object_register(keys: AnyKeys) -> Call[bool]:
    """``object_register(JobKeys.of("emails"))``: put an existing object in its registry.

    The decoded reply is True when it was added, False when it was registered
    already. Idempotent. In cluster mode the registry lives in another slot:
    the script checks that the object exists and the client then sends
    ``SADD`` (``Call.after``), so the reply is True whenever it exists.

    Raises:
        NoSuchObjectError: (decode) none of the object's keys exists.
    """
    all_keys = keys.all_keys()

    def decode(reply: Reply) -> bool:
        if status(reply, "object/register")[0] == "no_such_object":
            raise NoSuchObjectError(
                f"{keys.label} has no key in this database, so there is nothing to register; "
                "check the name, the type and the database"
            )
        values = ok_values(reply, script="object/register", obj=keys.label, op="register")
        if len(values) != 1:
            raise unexpected("object/register", reply)
        return as_int(values[0], "object/register") == 1

    return make_call(
        "object/register",
        keys,
        [keys.name, len(all_keys)],
        decode,
        extra_keys=all_keys,
        registry=True,
        cluster_after=("SADD", keys.registry, keys.name),
    )
