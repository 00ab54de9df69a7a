"""Every object, registered or not: the registries plus a bounded SCAN of the keyspace.

Synopsis::

    found = await thoonk.discover()                 # every type; SCAN for at most 2 s
    found.names("job")                              # ["emails", "thumbnails"]
    [o.name for o in found.unregistered]            # in no registry (an original client's)
    await thoonk.register("job", "thumbnails")      # True: added to the ``jobs`` registry

Why: the original JavaScript Thoonk Jobs never writes the ``jobs`` registry, so
a queue only JavaScript clients use is in no registry, and lists built from the
registries alone (``thoonk stats``, ``thoonk top``, the notebook views) miss
it. Its keys are there: every publish writes the ``publishes`` counter
(``contract.DISCOVERY_PATTERNS``).

Cost: SCAN visits every key of the database, so a walk is O(keyspace). It is
made of SCAN steps of ``count`` keys each (each step is short work for the
server, which serves other clients between steps), and stops after
``budget_s`` seconds: ``Discovery.complete`` is then False and objects in the
part not walked are missing (registered ones are always listed).
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from .. import contract
from .._errors import InvalidNameError, UsageError
from ..contract import Kind

if TYPE_CHECKING:
    from ..transport import RedisClient
    from ._thoonk import Thoonk

#: Default time budget of a walk (seconds) and keys per SCAN step.
DISCOVERY_BUDGET_S = 2.0
SCAN_COUNT = 1000


@dataclass(frozen=True, slots=True)
class FoundObject:
    """One object: its type, its name, and whether its type's registry names it."""

    kind: Kind
    name: str
    registered: bool


@dataclass(frozen=True, slots=True)
class Discovery:
    """What :meth:`Thoonk.discover` found.

    Attributes:
        objects: every object found, by type (the contract's order) then name.
        complete: False when the time budget ran out before the whole keyspace
            was walked (unregistered objects may then be missing).
        skipped: keys that look like an object's but whose name breaks the
            naming rule (another program's keys); they are not listed.
    """

    objects: tuple[FoundObject, ...]
    complete: bool
    skipped: tuple[str, ...] = ()

    def names(self, kind: Kind) -> list[str]:
        """The names of one type, registered or not, sorted."""
        return [o.name for o in self.objects if o.kind == kind]

    @property
    def unregistered(self) -> tuple[FoundObject, ...]:
        """The objects that no registry names."""
        return tuple(o for o in self.objects if not o.registered)

    def is_registered(self, kind: Kind, name: str) -> bool:
        """Whether the object was found in its registry (False if not found at all)."""
        return any(o.kind == kind and o.name == name and o.registered for o in self.objects)


def check_kinds(kinds: Iterable[Kind] | None) -> tuple[Kind, ...]:
    """The object types asked for (all of them for None), or UsageError."""
    if kinds is None:
        return tuple(contract.REGISTRIES)
    if isinstance(kinds, str):
        kinds = (kinds,)  # type: ignore[assignment]  # one type given as a str
    asked = tuple(kinds)
    for kind in asked:
        if not isinstance(kind, str) or kind not in contract.REGISTRIES:
            raise UsageError(
                f"unknown object type {reprlib.repr(kind)}; "
                f"use one of {sorted(contract.REGISTRIES)}"
            )
    return asked


def _scan_nodes(thoonk: Thoonk) -> list[RedisClient]:
    """The servers whose keyspace is walked: the one server in standalone mode.

    A Redis Cluster client will give one client per primary here (each primary
    holds its own part of the keyspace, with its own SCAN cursor).
    """
    return [thoonk.redis]


async def discover(
    thoonk: Thoonk,
    kinds: Iterable[Kind] | None = None,
    *,
    budget_s: float = DISCOVERY_BUDGET_S,
    count: int = SCAN_COUNT,
    scan: bool = True,
) -> Discovery:
    """The registered objects of ``kinds`` plus those found by their keys (see the module doc).

    ``scan=False``: the registries only (no SCAN; ``complete`` is then False).

    Raises:
        UsageError: an unknown type, a budget that is not a positive number, a bad count.
    """
    asked = check_kinds(kinds)
    if isinstance(budget_s, bool) or not isinstance(budget_s, int | float) or not budget_s > 0:
        raise UsageError(f"budget_s must be a number of seconds > 0, not {budget_s!r}")
    match = (
        contract.DISCOVERY_PATTERNS[asked[0]]
        if len(asked) == 1
        else (contract.DISCOVERY_PATTERN_ALL)
    )
    contract.scan_keys(b"0", match=match, count=count)  # refuse a bad count before any I/O
    registered = {kind: set(await thoonk.names(kind)) for kind in asked}
    found: set[tuple[Kind, str]] = set()
    skipped: set[str] = set()
    complete = scan
    deadline = trio.current_time() + budget_s
    for node in _scan_nodes(thoonk) if scan else []:
        cursor = b"0"
        while True:
            step = contract.scan_keys(cursor, match=match, count=count)
            cursor, keys = step.decode(await node.execute(*step.args, idempotent=True))
            for key in keys:
                hit = contract.discovered(key, cluster=thoonk.cluster)
                if hit is None or hit[0] not in registered:
                    continue
                try:
                    contract.validate_name(hit[1])
                except InvalidNameError:
                    skipped.add(key.decode(errors="replace"))
                    continue
                found.add(hit)
            if cursor == b"0":
                break
            if trio.current_time() >= deadline:
                complete = False
                break
    objects = [FoundObject(kind, name, True) for kind in asked for name in registered[kind]]
    objects += [
        FoundObject(kind, name, False) for kind, name in found if name not in registered[kind]
    ]
    order = {kind: i for i, kind in enumerate(contract.REGISTRIES)}
    objects.sort(key=lambda o: (order[o.kind], o.name))
    return Discovery(tuple(objects), complete, tuple(sorted(skipped)))


async def register(thoonk: Thoonk, kind: Kind, name: str) -> bool:
    """Add an existing object to its registry (``object/register``); True when added.

    Raises:
        UsageError: an unknown type.
        InvalidNameError: the name breaks the naming rule (nothing sent).
        NoSuchObjectError: none of the object's keys exists.
    """
    (kind,) = check_kinds((kind,))
    keys = contract.KEYS_BY_KIND[kind].of(name, cluster=thoonk.cluster)
    return await thoonk.run(contract.object_register(keys))
