"""Redis Cluster mode: route every command to the primary that holds its key's slot.

Synopsis::

    async with open_cluster("redis+cluster://10.0.0.1:7000,10.0.0.2:7000") as redis:
        await redis.execute("SET", "job.ids:{emails}", "x")      # to the slot's primary
        await redis.evalsha(script, keys=["job.ids:{emails}"], args=[1])
        async with redis.open_pubsub() as pubsub:                 # cluster-wide PUBLISH
            ...

A :class:`ClusterClient` keeps a slot map (``CLUSTER SHARDS``, or ``CLUSTER
SLOTS`` on Redis 6.2) and one :class:`RedisClient` per node, so each node gets
what a standalone server gets: one multiplexed connection (concurrent callers
become a pipeline), dedicated connections for blocking calls, EVALSHA with
NOSCRIPT reload (per node: each node has its own script cache), reconnects.

Redirections (none of them ran the command, so any command is sent again):

* ``MOVED slot host:port``: the slot lives elsewhere for good: the map entry is
  corrected at once, the whole map is reloaded, the command is sent there;
* ``ASK slot host:port``: the slot is migrating and the key is already on the
  target: ``ASKING`` + the command on that node, once (the map is unchanged);
* ``TRYAGAIN`` (a multi-key command during a migration), ``CLUSTERDOWN`` and
  ``READONLY`` / ``MASTERDOWN`` (a failover in progress): sent again after a
  growing pause, the map reloaded each time, for at most the config's
  ``reconnect_timeout``; then the error is raised, saying so.

A connection failure to a node reloads the map (a failover may have promoted a
replica); the command is sent again to the new owner only if the caller
declared it ``idempotent`` (the same rule as standalone: it may have run).

Commands without a key (PING, TIME, INFO...) go to one primary; SCRIPT,
FLUSHDB and FLUSHALL go to every primary. Pub/sub: see :class:`ClusterPubSub`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any, TypeVar, Unpack

import hiredis
import redis.exceptions
import trio
from redis.crc import key_slot

from .._backoff import BackoffPolicy
from .._errors import UsageError
from .._nursery import open_service_nursery
from ._client import LinkState, RedisClient, ScriptLike
from ._config import RedisConfig, RedisOptions
from ._connect import connect_stream
from ._connection import Connection
from ._errors import (
    ThoonkAskError,
    ThoonkAuthenticationError,
    ThoonkClusterDownError,
    ThoonkConnectionError,
    ThoonkMasterDownError,
    ThoonkMovedError,
    ThoonkNoPermissionError,
    ThoonkReadOnlyError,
    ThoonkTimeoutError,
    ThoonkTLSError,
    ThoonkTryAgainError,
)
from ._protocol import Arg, Command
from ._pubsub import PubSub, _b
from ._subscription import Subscription

log = logging.getLogger(__name__)

T = TypeVar("T")

#: URL schemes that select cluster mode.
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SLOTS = 16384
#: Redirections followed for one command before giving up (a map in flux).
MAX_REDIRECTS = 16
#: Pauses before sending again after TRYAGAIN / CLUSTERDOWN / a failover's refusal.
_WAIT_BACKOFF = BackoffPolicy(first=0.05, maximum=0.5)

Address = tuple[str, int]

# Commands that name no key: sent to one primary (PING, TIME, INFO, ...).
_KEYLESS = frozenset(
    {
        b"ACL", b"ASKING", b"AUTH", b"BGSAVE", b"CLIENT", b"CLUSTER", b"COMMAND", b"CONFIG",
        b"DBSIZE", b"DEBUG", b"ECHO", b"FLUSHALL", b"FLUSHDB", b"FUNCTION", b"HELLO", b"INFO",
        b"LASTSAVE", b"LATENCY", b"PING", b"PUBLISH", b"RANDOMKEY", b"READONLY", b"READWRITE",
        b"ROLE", b"SAVE", b"SCAN", b"SCRIPT", b"SELECT", b"SLOWLOG", b"TIME", b"WAIT",
    }
)  # fmt: skip
# Keyless commands that change every node's state: sent to every primary.
_EVERY_PRIMARY = frozenset({b"SCRIPT", b"FLUSHDB", b"FLUSHALL", b"FUNCTION"})
_SCRIPTS = frozenset({b"EVAL", b"EVALSHA", b"EVAL_RO", b"EVALSHA_RO", b"FCALL", b"FCALL_RO"})
# What no other node will answer differently (a map reload raises the first one).
_NOT_HEALING = (ThoonkTLSError, ThoonkAuthenticationError, ThoonkNoPermissionError)
# The slot moved or its primary is changing: the command did not run.
_WAIT_AND_RETRY = (
    ThoonkTryAgainError,
    ThoonkClusterDownError,
    ThoonkReadOnlyError,
    ThoonkMasterDownError,
)


def _name(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg.upper()
    return str(arg).encode().upper()


def _key_bytes(key: Arg) -> bytes:
    if isinstance(key, bytes):
        return key
    return str(key).encode()


def command_slot(args: Sequence[Arg]) -> int | None:
    """The slot of a command's first key (None: it names no key).

    ``command_slot(("GET", "a"))`` -> 15495; EVAL/EVALSHA/FCALL: the first of
    their KEYS; other commands: their first argument. Every key of a Thoonk
    command shares one slot (hash tags), so the first key decides.
    """
    if not args:
        return None
    name = _name(args[0])
    if name in _SCRIPTS:
        if len(args) < 4 or int(args[2]) < 1:
            return None
        return int(key_slot(_key_bytes(args[3])))
    if name in _KEYLESS or len(args) < 2:
        return None
    return int(key_slot(_key_bytes(args[1])))


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` asks for cluster mode (``redis+cluster://`` / ``rediss+cluster://``)."""
    return url.partition("://")[0].lower() in CLUSTER_SCHEMES


def parse_cluster_url(
    url: str, **overrides: Unpack[RedisOptions]
) -> tuple[RedisConfig, list[Address]]:
    """``redis+cluster://[user:pw@]h1:p1[,h2:p2...][/0][?options]`` -> (config, seed nodes).

    The config is the one for the first seed (the same options apply to every
    node); the seeds are the nodes asked for the slot map, in order.

    Raises:
        UsageError: not a cluster URL, no seed, a bad port, a database other than 0.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in CLUSTER_SCHEMES:
        raise UsageError(
            "a cluster URL starts with redis+cluster:// (or rediss+cluster:// for TLS), e.g. "
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7000"
        )
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    userinfo, at, hosts = netloc.rpartition("@")
    seeds: list[Address] = []
    for part in hosts.split(","):
        host, colon, port = part.strip().rpartition(":")
        if not colon:
            host, port = part.strip(), "6379"
        host = host.strip("[]")
        try:
            number = int(port)
        except ValueError:
            number = -1
        if not host or not 0 < number < 65536:
            raise UsageError(
                f"{part.strip()!r} in the cluster URL is not host:port; list the seed nodes "
                "as redis+cluster://host1:port1,host2:port2"
            )
        seeds.append((host, number))
    base = "rediss" if scheme.lower().startswith("rediss") else "redis"
    first = f"{base}://{userinfo}{at}{_netloc(seeds[0])}{tail}"
    config = RedisConfig.from_url(first, **overrides)
    if config.db != 0:
        raise UsageError(
            f"Redis Cluster has only database 0, not {config.db}; drop /{config.db} from the URL"
        )
    return config, seeds


def _netloc(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def slot_map_from_shards(
    reply: Any, asked: Address, *, tls: bool = False
) -> dict[tuple[int, int], Address]:
    """``CLUSTER SHARDS`` (Redis 7) -> {(first, last slot): primary address}.

    ``tls``: the client speaks TLS, so a node's ``tls-port`` is its address
    (a node may list a plaintext ``port`` too); otherwise its ``port``.
    """
    ports = ("tls-port", "port") if tls else ("port", "tls-port")
    ranges: dict[tuple[int, int], Address] = {}
    for shard in reply:
        fields = dict(zip(map(_text, shard[::2]), shard[1::2], strict=True))
        slots = [int(s) for s in fields.get("slots", [])]
        primary: Address | None = None
        for node in fields.get("nodes", []):
            info = {_text(k): v for k, v in zip(node[::2], node[1::2], strict=True)}
            if _text(info.get("role", "")) != "master":
                continue
            endpoint = _text(info.get("endpoint", info.get("ip", "")))
            host = asked[0] if endpoint in ("", "?") else endpoint
            address = (host, int(info.get(ports[0], 0) or info.get(ports[1], 0)))
            if _text(info.get("health", "online")) == "online" or primary is None:
                primary = address
        if primary is None:
            continue
        for first, last in zip(slots[::2], slots[1::2], strict=True):
            ranges[(first, last)] = primary
    return ranges


def slot_map_from_slots(reply: Any, asked: Address) -> dict[tuple[int, int], Address]:
    """``CLUSTER SLOTS`` (Redis 6.2) -> {(first, last slot): primary address}.

    With ``tls-cluster yes`` the ports are the TLS ones for a TLS connection.
    """
    ranges: dict[tuple[int, int], Address] = {}
    for entry in reply:
        first, last, primary = int(entry[0]), int(entry[1]), entry[2]
        host = _text(primary[0])
        ranges[(first, last)] = (asked[0] if host in ("", "?") else host, int(primary[1]))
    return ranges


class ClusterClient:
    """A cluster client with :class:`RedisClient`'s API. Make one with :func:`open_cluster`."""

    def __init__(
        self, config: RedisConfig, seeds: Sequence[Address], nursery: trio.Nursery
    ) -> None:
        self.config = config
        self._seeds = list(seeds)
        self._nursery = nursery
        self._nodes: dict[Address, RedisClient] = {}
        self._slots: list[Address | None] = [None] * SLOTS
        self._primaries: list[Address] = []
        self._known: list[Address] = list(seeds)  # every node ever seen, for map reloads
        self._refresh_lock = trio.Lock()
        self._closed = False
        #: Slot map reloads so far, redirections followed, and commands sent again
        #: after TRYAGAIN / CLUSTERDOWN / READONLY / MASTERDOWN (tests, status lines).
        self.refreshes = 0
        self.redirects = 0
        self.retries = 0

    # ---------------------------------------------------------------- state

    @property
    def where(self) -> str:
        """The cluster, for messages (no password)."""
        nodes = ",".join(_netloc(a) for a in (self._primaries or self._seeds))
        scheme = "rediss+cluster" if self.config.tls else "redis+cluster"
        return f"{scheme}://{nodes}"

    @property
    def max_block(self) -> float:
        """As :attr:`RedisClient.max_block`."""
        return self.config.max_block

    @property
    def connects(self) -> int:
        """Connections opened so far, all nodes together."""
        return sum(node.connects for node in self._nodes.values())

    def link_state(self) -> LinkState:
        """Up when every primary's shared connection is (the first one down otherwise)."""
        for address in self._primaries:
            node = self._nodes.get(address)
            if node is not None:
                state = node.link_state()
                if not state.connected:
                    return state
        return LinkState(connected=True)

    def primaries(self) -> list[Address]:
        """The primaries of the current slot map."""
        return list(self._primaries)

    def primary_clients(self) -> list[RedisClient]:
        """One client per primary (to walk each primary's keyspace with SCAN)."""
        return [self.node(a) for a in self._primaries]

    def owner(self, slot: int) -> Address:
        """The primary that serves ``slot`` in the current map."""
        address = self._slots[slot]
        if address is None:
            raise ThoonkClusterDownError(
                f"no node of the cluster {self.where} serves slot {slot}; check CLUSTER INFO"
            )
        return address

    def node(self, address: Address) -> RedisClient:
        """The client of one node (made on first use; it connects when first used)."""
        client = self._nodes.get(address)
        if client is None:
            if self._closed:
                raise ThoonkConnectionError(f"the client for {self.where} is closed")
            host, port = address
            # Node clients keep the reader task reading (no direct replies, see
            # Connection): that path is proved on one server, not against a
            # cluster's redirections and failovers.
            client = RedisClient(
                self.config.replace(host=host, port=port), self._nursery, direct_replies=False
            )
            self._nodes[address] = client
        return client

    # ------------------------------------------------------------ slot map

    async def refresh(self, *, seen: int | None = None) -> None:
        """Reload the slot map from the first node that answers.

        ``seen``: the :attr:`refreshes` count the caller saw before its failure;
        if another task reloaded the map since, this returns at once.

        Raises:
            ThoonkConnectionError: no known node answered.
        """
        async with self._refresh_lock:
            if seen is not None and seen != self.refreshes:
                await trio.lowlevel.checkpoint()
                return
            errors: list[str] = []
            final: Exception | None = None
            order = [*self._primaries, *(a for a in self._known if a not in self._primaries)]
            for address in dict.fromkeys(order):
                try:
                    ranges = await self._ask_map(address)
                except (
                    ThoonkConnectionError,
                    ThoonkTimeoutError,
                    redis.exceptions.RedisError,
                ) as exc:
                    errors.append(f"{_netloc(address)}: {exc}")
                    if final is None and isinstance(exc, _NOT_HEALING):
                        final = exc
                    continue
                if not ranges:
                    errors.append(f"{_netloc(address)}: serves no slot (not a formed cluster?)")
                    continue
                self._install(ranges)
                return
            if isinstance(final, ThoonkNoPermissionError):
                raise ThoonkNoPermissionError(
                    f"{final}; the ACL user needs +cluster|shards +cluster|slots +asking +eval in "
                    "cluster mode (docs/security.md)"
                ) from final
            if final is not None:
                # TLS refused, authentication refused: as a standalone server says it.
                raise final
            raise ThoonkConnectionError(
                f"no node of the cluster answered CLUSTER SHARDS / SLOTS ({'; '.join(errors)}); "
                "check the seed addresses in the redis+cluster:// URL and that the cluster is up"
            )

    async def _ask_map(self, address: Address) -> dict[tuple[int, int], Address]:
        # A one-shot connection: a node client would retry a dead node for its
        # whole reconnect_timeout, and the point here is to find a live one fast.
        host, port = address
        conn = await Connection.open(self.config.replace(host=host, port=port), self._nursery)
        try:
            try:
                return slot_map_from_shards(
                    await conn.execute("CLUSTER", "SHARDS"), address, tls=self.config.tls
                )
            except redis.exceptions.ResponseError as exc:
                if "cluster support disabled" in str(exc).lower():
                    raise ThoonkConnectionError(
                        f"{_netloc(address)} is not a cluster node (cluster-enabled no); use a "
                        "redis:// URL for a standalone server"
                    ) from exc
                # Redis 6.2 has no CLUSTER SHARDS.
                return slot_map_from_slots(await conn.execute("CLUSTER", "SLOTS"), address)
        finally:
            await conn.aclose()

    def _install(self, ranges: dict[tuple[int, int], Address]) -> None:
        slots: list[Address | None] = [None] * SLOTS
        for (first, last), address in ranges.items():
            for slot in range(first, last + 1):
                slots[slot] = address
        self._slots = slots
        self._primaries = sorted(set(ranges.values()))
        self._known = list(dict.fromkeys([*self._primaries, *self._known]))
        self.refreshes += 1
        log.debug("cluster slot map of %s: %d primaries", self.where, len(self._primaries))

    def _moved(self, exc: redis.exceptions.AskError) -> Address:
        """Point ``exc.slot_id`` at the node MOVED names (before the full reload)."""
        address: Address = (exc.host, int(exc.port))
        self._slots[exc.slot_id] = address
        if address not in self._known:
            self._known.append(address)
        return address

    # -------------------------------------------------------------- routing

    def _target(self, slot: int | None) -> RedisClient:
        if slot is None:
            if not self._primaries:
                raise ThoonkClusterDownError(f"the cluster {self.where} has no primary")
            return self.node(self._primaries[0])
        return self.node(self.owner(slot))

    async def _routed(
        self,
        slot: int | None,
        attempt: Callable[[RedisClient], Awaitable[T]],
        asking: Callable[[RedisClient], Awaitable[T]],
        *,
        idempotent: bool,
        what: str,
    ) -> T:
        """``attempt(node)`` on the slot's node, following the cluster's redirections."""
        node = self._target(slot)
        ask: RedisClient | None = None
        deadline: float | None = None
        backoff = _WAIT_BACKOFF.start()
        hops = 0  # redirections to another node; the pauses are bounded by `deadline`
        moved_from: set[RedisClient] = set()  # nodes that sent this call elsewhere (MOVED)

        async def pause_or_raise(exc: Exception, failure: Exception) -> None:
            """One backoff pause before sending again; ``failure`` once past reconnect_timeout."""
            nonlocal deadline
            self.retries += 1
            now = trio.current_time()
            if deadline is None:
                deadline = now + self.config.reconnect_timeout
            pause = backoff.next_delay()
            if now + pause > deadline:
                raise failure from exc
            log.debug("%s on %s: %s; retrying in %.2f s", what, self.where, exc, pause)
            await trio.sleep(pause)

        while hops <= MAX_REDIRECTS:
            seen = self.refreshes
            try:
                if ask is not None:
                    target, ask = ask, None
                    return await asking(target)
                return await attempt(node)
            except ThoonkMovedError as exc:
                self.redirects += 1
                moved_from.add(node)
                node = self.node(self._moved(exc))
                if node in moved_from:
                    # Sent back to a node that already sent this call away: the nodes
                    # disagree on the slot's owner (a move that not every node has
                    # taken in yet; they agree within the cluster bus's gossip). Wait
                    # for them, as for TRYAGAIN, instead of bouncing MAX_REDIRECTS
                    # times in a few milliseconds.
                    await pause_or_raise(
                        exc,
                        ThoonkClusterDownError(
                            f"{what}: the nodes of the cluster {self.where} still send slot "
                            f"{exc.slot_id} to each other after "
                            f"{self.config.reconnect_timeout:g} s (MOVED back and forth); "
                            "check CLUSTER NODES on each node"
                        ),
                    )
                    moved_from.clear()
                    await self._refresh_quietly(seen)
                    node = self._target(slot)
                else:
                    hops += 1
                    self._nursery.start_soon(self._refresh_quietly, seen)
            except ThoonkAskError as exc:
                self.redirects += 1
                hops += 1
                ask = self.node((exc.host, int(exc.port)))
            except _WAIT_AND_RETRY as exc:
                await pause_or_raise(
                    exc,
                    type(exc)(
                        f"{exc} (still so after {self.config.reconnect_timeout:g} s of retries "
                        f"on the cluster {self.where})"
                    ),
                )
                await self._refresh_quietly(seen)
                node = self._target(slot)
            except (ThoonkConnectionError, ThoonkTimeoutError):
                # A failover may have moved the slot: reload the map so the next
                # call goes to the new owner; send this one again only if safe.
                await self._refresh_quietly(seen)
                moved = self._target(slot)
                if not idempotent or moved is node:
                    raise
                hops += 1
                node = moved
        raise ThoonkClusterDownError(
            f"{what}: more than {MAX_REDIRECTS} redirections on the cluster {self.where} "
            "(slots moving back and forth?); try again later"
        )

    async def _refresh_quietly(self, seen: int) -> None:
        try:
            await self.refresh(seen=seen)
        except (ThoonkConnectionError, ThoonkNoPermissionError) as exc:
            log.warning("cluster slot map reload failed: %s", exc)

    # ---------------------------------------------------------------- calls

    async def connection(self) -> Connection:
        """The shared connection of the first primary (loads the slot map first if needed)."""
        if not self._primaries:
            await self.refresh()
        return await self._target(None).connection()

    async def execute(self, *args: Arg, idempotent: bool = False, shield: bool = False) -> Any:
        """As :meth:`RedisClient.execute`, on the node of the command's key."""
        slot = command_slot(args)
        if slot is None and args and _name(args[0]) in _EVERY_PRIMARY:
            # No key, no redirection: each primary has its own script cache / data.
            replies = [
                await self.node(a).execute(*args, idempotent=idempotent) for a in self._primaries
            ]
            return replies[0] if replies else None
        return await self._routed(
            slot,
            lambda n: n.execute(*args, idempotent=idempotent, shield=shield),
            lambda n: self._asking(n, args),
            idempotent=idempotent,
            what=_text(args[0]) if args else "command",
        )

    async def _asking(self, node: RedisClient, args: Sequence[Arg]) -> Any:
        # ASKING holds for the next command on the same connection: both go in one write.
        _, reply = await node.pipeline([("ASKING",), tuple(args)])
        return reply

    async def evalsha(
        self,
        script: ScriptLike,
        keys: Sequence[Arg] = (),
        args: Sequence[Arg] = (),
        *,
        idempotent: bool = False,
        shield: bool = False,
    ) -> Any:
        """As :meth:`RedisClient.evalsha`, on the node of ``keys[0]`` (NOSCRIPT reload per node)."""
        slot = int(key_slot(_key_bytes(keys[0]))) if keys else None
        return await self._routed(
            slot,
            lambda n: n.evalsha(script, keys, args, idempotent=idempotent, shield=shield),
            # Once, on a migrating slot: EVAL with the source needs no script cache.
            lambda n: self._asking(n, ("EVAL", script.source, len(keys), *keys, *args)),
            idempotent=idempotent,
            what="EVALSHA",
        )

    async def evalsha_durable(
        self,
        calls: Sequence[tuple[ScriptLike, Sequence[Arg], Sequence[Arg]]],
        *,
        replicas: int,
        timeout_ms: int,
    ) -> tuple[list[Any], int]:
        """As :meth:`RedisClient.evalsha_durable`, on the node of the first call's first key.

        Every call must name keys of one slot (one object's): WAIT counts the
        replicas of the node whose connection ran the scripts. Redirected
        (MOVED, ASK, TRYAGAIN...): nothing ran, the whole batch follows.
        """
        keys = calls[0][1] if calls else ()
        slot = int(key_slot(_key_bytes(keys[0]))) if keys else None

        async def attempt(node: RedisClient) -> tuple[list[Any], int]:
            results, acked = await node.evalsha_durable(
                calls, replicas=replicas, timeout_ms=timeout_ms
            )
            for reply in results:
                if isinstance(reply, (ThoonkMovedError, ThoonkAskError, *_WAIT_AND_RETRY)):
                    raise reply
            return results, acked

        async def asking(node: RedisClient) -> tuple[list[Any], int]:
            commands: list[Command] = []
            for script, k, a in calls:
                commands += [("ASKING",), ("EVAL", script.source, len(k), *k, *a)]
            async with node.dedicated() as conn:
                *replies, acked = await conn.pipeline([*commands, ("WAIT", replicas, timeout_ms)])
            if isinstance(acked, Exception):
                raise acked
            return replies[1::2], int(acked)

        return await self._routed(slot, attempt, asking, idempotent=False, what="EVALSHA+WAIT")

    async def pipeline(
        self, commands: Sequence[Command], *, raise_on_error: bool = True
    ) -> list[Any]:
        """As :meth:`RedisClient.pipeline`: one pipeline per node, replies in the given order.

        A command redirected (MOVED, ASK, TRYAGAIN...) is sent again on its own,
        following the redirection; one whose node failed is not sent again.
        """
        return await self._per_node(
            commands,
            [command_slot(c) for c in commands],
            lambda node, batch: node.pipeline(batch, raise_on_error=False),
            lambda command: self.execute(*command),
            raise_on_error=raise_on_error,
        )

    async def evalsha_many(
        self,
        calls: Sequence[tuple[ScriptLike, Sequence[Arg], Sequence[Arg]]],
        *,
        raise_on_error: bool = True,
    ) -> list[Any]:
        """As :meth:`RedisClient.evalsha_many`: one pipeline per node, results in order."""
        return await self._per_node(
            calls,
            [int(key_slot(_key_bytes(keys[0]))) if keys else None for _, keys, _ in calls],
            lambda node, batch: node.evalsha_many(batch, raise_on_error=False),
            lambda call: self.evalsha(*call),
            raise_on_error=raise_on_error,
        )

    async def _per_node(
        self,
        items: Sequence[T],
        slots: Sequence[int | None],
        batch: Callable[[RedisClient, list[T]], Awaitable[list[Any]]],
        one: Callable[[T], Awaitable[Any]],
        *,
        raise_on_error: bool,
    ) -> list[Any]:
        """``batch`` the items of each node on it; redirected ones again with ``one``."""
        groups: dict[Address | None, list[int]] = {}
        for i, slot in enumerate(slots):
            groups.setdefault(None if slot is None else self.owner(slot), []).append(i)
        replies: list[Any] = [None] * len(items)
        for address, indexes in groups.items():
            node = self._target(None) if address is None else self.node(address)
            got = await batch(node, [items[i] for i in indexes])
            for i, reply in zip(indexes, got, strict=True):
                replies[i] = reply
        for i, reply in enumerate(replies):
            if isinstance(reply, (ThoonkMovedError, ThoonkAskError, *_WAIT_AND_RETRY)):
                try:
                    replies[i] = await one(items[i])
                except redis.exceptions.ResponseError as exc:
                    replies[i] = exc
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        return replies

    # ------------------------------------------------------- blocking calls

    @asynccontextmanager
    async def dedicated(self, key: Arg | None = None) -> AsyncIterator[Connection]:
        """A dedicated connection to the node of ``key`` (first primary: no key)."""
        slot = None if key is None else int(key_slot(_key_bytes(key)))
        async with self._target(slot).dedicated() as conn:
            yield conn

    async def execute_blocking(
        self, *args: Arg, block_s: float | None = None, idempotent: bool = False
    ) -> Any:
        """As :meth:`RedisClient.execute_blocking`, on a dedicated connection to the key's node."""
        return await self._routed(
            command_slot(args),
            lambda n: n.execute_blocking(*args, block_s=block_s, idempotent=idempotent),
            lambda n: self._asking_blocking(n, args),
            idempotent=idempotent,
            what=_text(args[0]) if args else "command",
        )

    async def _asking_blocking(self, node: RedisClient, args: Sequence[Arg]) -> Any:
        async with node.dedicated() as conn:
            _, reply = await conn.pipeline([("ASKING",), tuple(args)])
        if isinstance(reply, Exception):
            raise reply
        return reply

    # -------------------------------------------------------------- pub/sub

    @asynccontextmanager
    async def open_pubsub(
        self, route: Callable[[bytes], bytes | None] | None = None
    ) -> AsyncIterator[ClusterPubSub]:
        """A :class:`ClusterPubSub` for the block (see there for ``route``)."""
        async with open_service_nursery() as nursery:
            pubsub = ClusterPubSub(self, nursery, route)
            await pubsub._node(self._target(None).config)  # fails now if nothing answers
            yield pubsub
            nursery.cancel_scope.cancel()

    # -------------------------------------------------------------- closing

    async def aclose(self) -> None:
        """Close every node's connections; calls still waiting fail."""
        self._closed = True
        nodes = list(self._nodes.values())
        self._nodes.clear()
        for node in nodes:
            await node.aclose()


class _NodePubSub(PubSub):
    """One node's pub/sub connection; when its node cannot be reached it moves to another."""

    def __init__(
        self,
        cluster: ClusterClient,
        config: RedisConfig,
        accepts: Callable[[bytes], bool] | None = None,
    ) -> None:
        super().__init__(config)
        self._cluster = cluster
        self._accepts = accepts

    def _dispatch(self, reply: Any) -> None:
        # A pattern is subscribed on every primary, and a PUBLISH reaches every
        # node: keep each pattern message on one connection only (its channel's home).
        if (
            self._accepts is not None
            and isinstance(reply, list)
            and len(reply) == 4
            and reply[0] == b"pmessage"
            and not self._accepts(reply[2])
        ):
            return
        super()._dispatch(reply)

    async def _connect(self) -> tuple[trio.abc.Stream, hiredis.Reader]:
        current = (self.config.host, self.config.port)
        order = [current, *self._cluster.primaries(), *self._cluster._known]
        last: Exception | None = None
        for host, port in dict.fromkeys(order):
            config = self.config.replace(host=host, port=port)
            try:
                opened = await connect_stream(config)
            except (ThoonkConnectionError, ThoonkTimeoutError) as exc:
                last = exc
                continue
            if (host, port) != current:
                log.warning(
                    "cluster pub/sub moves from %s to %s", _netloc(current), _netloc((host, port))
                )
            self.config = config
            return opened
        assert last is not None
        raise last


class ClusterPubSub:
    """Cluster pub/sub with :class:`PubSub`'s API. Make one with ``ClusterClient.open_pubsub``.

    Classic pub/sub is cluster-wide: a PUBLISH on any node reaches subscribers
    on every node, through the cluster bus. But the bus is a hop: a
    subscriber on another node than the publisher can receive, after its
    SUBSCRIBE was acknowledged, a message published before it, and a PING
    barrier on its own connection says nothing about the publisher's node.
    So each channel is subscribed on the node that publishes it: ``route``
    maps a channel to a key (Thoonk: ``event.job.finish:emails`` ->
    ``{emails}``), and the channel goes to the primary of that key's slot,
    where the object's scripts run and PUBLISH. There, as on a standalone
    server, a publish is delivered in order with the replies of that node,
    and :meth:`barrier` (a PING on every node connection) is exact. Channels
    ``route`` does not place go to the first primary; patterns to every
    primary, each connection keeping the messages of the channels homed there.

    One connection per node used, opened on first use. When a node cannot be
    reached its connection moves to another node (cluster-wide delivery goes
    on, ordering is then the bus's) and its subscriptions get a ``Gap``.
    """

    def __init__(
        self,
        cluster: ClusterClient,
        nursery: trio.Nursery,
        route: Callable[[bytes], bytes | None] | None = None,
    ) -> None:
        self.config = cluster.config.replace(response_timeout=None)
        self._cluster = cluster
        self._nursery = nursery
        self._route = route
        self._nodes: dict[Address, _NodePubSub] = {}
        self._lock = trio.Lock()

    @property
    def where(self) -> str:
        return self._cluster.where

    @property
    def reconnects(self) -> int:
        """Reconnects of all node connections together."""
        return sum(node.reconnects for node in self._nodes.values())

    def node_addresses(self) -> list[Address]:
        """The nodes (as first addressed) this pub/sub has a connection for."""
        return list(self._nodes)

    async def _node(self, config: RedisConfig) -> _NodePubSub:
        address = (config.host, config.port)
        node = self._nodes.get(address)
        if node is None:
            async with self._lock:
                node = self._nodes.get(address)
                if node is None:
                    node = _NodePubSub(
                        self._cluster,
                        self.config.replace(host=address[0], port=address[1]),
                        partial(self._accepts, address),
                    )
                    await self._nursery.start(node._run)
                    self._nodes[address] = node
        return node

    def _home(self, channel: bytes) -> Address:
        key = None if self._route is None else self._route(channel)
        if key is None:
            return (
                self._cluster._target(None).config.host,
                self._cluster._target(None).config.port,
            )
        return self._cluster.owner(int(key_slot(key)))

    def _accepts(self, address: Address, channel: bytes) -> bool:
        """Whether the connection of ``address`` hands out a pattern message of ``channel``.

        The one of the channel's home node, or the first connection when the
        home has none (a slot that moved to a node we have no connection to).

        The cluster bus can deliver a publish to the other nodes late (tens
        of milliseconds: it holds back the second and later copies of a
        burst), after a new subscription there: the home node's connection
        never hands such a copy out (it subscribed after the publish), and
        :meth:`subscribe` opens every node's connection before it subscribes
        any, so the first connection never stands in for a home whose
        connection is about to open (it did, and heard those copies).
        """
        try:
            home = self._home(channel)
        except ThoonkClusterDownError:
            home = None  # a slot nobody serves: the first connection takes it
        if home in self._nodes:
            return home == address
        return address == next(iter(self._nodes))

    @asynccontextmanager
    async def subscribe(
        self,
        channels: Iterable[str | bytes] = (),
        patterns: Iterable[str | bytes] = (),
        *,
        buffer: int = 1024,
        ack_timeout: float | None = None,
    ) -> AsyncIterator[Subscription]:
        """As :meth:`PubSub.subscribe`: one subscription, its channels on their nodes.

        Patterns go to every primary (with a ``route``), each connection keeping
        only the messages of channels homed on its node, so a pattern's
        messages too arrive in order with their object's replies.
        """
        if buffer < 1:
            raise UsageError("a subscription buffer must hold at least 1 event")
        groups: dict[Address, tuple[list[bytes], list[bytes]]] = {}
        for name in channels:
            channel = _b(name)
            groups.setdefault(self._home(channel), ([], []))[0].append(channel)
        pattern_homes = [self._home(b"")] if self._route is None else self._cluster.primaries()
        for name in patterns:
            pattern = _b(name)
            for home in pattern_homes:
                groups.setdefault(home, ([], []))[1].append(pattern)
        if not groups:
            raise UsageError("subscribe to at least one channel or pattern")
        sub = Subscription(buffer)
        # Every connection first, then the subscriptions: once one node has
        # the pattern, the others must have a connection (see _accepts).
        nodes = [await self._node(self.config.replace(host=h, port=p)) for h, p in groups]
        async with AsyncExitStack() as stack:
            for node, (chans, pats) in zip(nodes, groups.values(), strict=True):
                await stack.enter_async_context(
                    node.subscribe(chans, pats, buffer=buffer, ack_timeout=ack_timeout, into=sub)
                )
            yield sub

    async def barrier(self) -> None:
        """As :meth:`PubSub.barrier`, on every node connection."""
        for node in list(self._nodes.values()):
            await node.barrier()


@asynccontextmanager
async def open_cluster(
    url: str | RedisConfig, *seeds: Address, **options: Unpack[RedisOptions]
) -> AsyncIterator[ClusterClient]:
    """A :class:`ClusterClient` for a ``redis+cluster://`` URL, for the block.

    Or a :class:`RedisConfig` (the options of every node) plus seed addresses.
    The slot map is loaded here: an unreachable cluster fails at once with
    :class:`ThoonkConnectionError`. Keyword options as for ``open_redis``.

    Raises:
        UsageError: a malformed URL, or an unknown or invalid option.
        ThoonkConnectionError: no seed node answered with a slot map.
    """
    if isinstance(url, RedisConfig):
        config = url.replace(**options)
        seed_list = list(seeds) or [(config.host, config.port)]
    else:
        config, seed_list = parse_cluster_url(url, **options)
    async with open_service_nursery() as nursery:
        client = ClusterClient(config, seed_list, nursery)
        try:
            await client.connection()
            yield client
        finally:
            await client.aclose()
            nursery.cancel_scope.cancel()
