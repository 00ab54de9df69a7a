"""The Thoonk client: one Redis connection, one pub/sub connection, object handles.

Synopsis::

    async with thoonk_actors.open_thoonk() as thoonk:      # embedded Redis
        emails = thoonk.job("emails")
        job_id = await emails.publish({"to": "a@example.org"})

With no URL it uses ``$THOONK_REDIS_URL``, or else the embedded server of
``./.thoonk`` (started when needed). Object handles are cheap: make them as
often as you like; they share the client's connections.
"""

from __future__ import annotations

import math
import os
import reprlib
import socket
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

import trio

from .. import contract
from .._errors import UnexpectedReplyError, UsageError
from .._nursery import open_service_nursery
from ..contract import Call, Codec, Command, JsonCodec
from ..embedded import resolve_url, reviver_for
from ..transport import (
    ClusterClient,
    ClusterPubSub,
    PubSub,
    RedisClient,
    RedisConfig,
    RedisOptions,
    Subscription,
    is_cluster_url,
    open_cluster,
    open_pubsub,
    open_redis,
)
from ._discovery import DISCOVERY_BUDGET_S, SCAN_COUNT, Discovery, discover, register
from ._durability import DurabilitySettings
from ._results import ResultRouter

if TYPE_CHECKING:
    from ._feed import Feed
    from ._job import Job
    from ._queue import Queue
    from ._sorted_feed import SortedFeed

T = TypeVar("T")


def default_worker_id() -> str:
    """``host:pid:random`` — unique per process, readable in ``thoonk top``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Thoonk:
    """A connected Thoonk client. Make one with :func:`open_thoonk`."""

    def __init__(
        self,
        redis: RedisClient | ClusterClient,
        nursery: trio.Nursery,
        *,
        url: str,
        cluster: bool,
        codec: Codec,
        worker_id: str,
    ) -> None:
        #: The transport client underneath: the objects' business. The layers
        #: above use this class's methods (``where``, ``open_derived``, ...).
        self.redis = redis
        self.url = url
        self.cluster = cluster
        self.codec = codec
        self.worker_id = worker_id
        self._nursery = nursery
        self._pubsub: PubSub | ClusterPubSub | None = None
        self._pubsub_lock = trio.Lock()
        self._routers: dict[str, ResultRouter] = {}
        #: Per-queue result codecs (queue name -> codec) for the jobs this client
        #: makes, the runtime's included; a queue not named uses ``codec``.
        #: ``RawCodec(text=True)`` gives original JavaScript publishers the plain
        #: text they expect (docs/contract.md, "Sharing a queue ...").
        self.result_codecs: dict[str, Codec] = {}
        self._routers_lock = trio.Lock()
        #: Each job queue's ``durable`` settings as last read (publishes that give none).
        self.durability = DurabilitySettings(self)

    # -------------------------------------------------------------- the link

    @property
    def where(self) -> str:
        """The server (or cluster) this client talks to, for messages (no password)."""
        return self.redis.where

    def block_timeout(self, wanted: float) -> float:
        """``thoonk.block_timeout(30)``: the server-side timeout of one blocking read.

        ``wanted`` (at least 1 ms: 0 would mean "for ever" to the server),
        capped at the longest block the link allows (half its health timeout:
        a read on a silently dead connection is noticed in time), so a longer
        wait takes several reads. ``math.inf`` gives that longest block, 0 when
        the link has no health timeout (then a read may block for ever).
        """
        longest = self.redis.max_block
        if math.isinf(wanted):
            return longest
        seconds = max(wanted, 0.001)
        return min(seconds, longest) if longest else seconds

    @property
    def block_margin(self) -> float:
        """How long past its server-side timeout a blocking read may take (0: no health timeout)."""
        return self.redis.config.block_margin

    @asynccontextmanager
    async def open_derived(self, *, worker_id: str | None = None) -> AsyncIterator[Thoonk]:
        """``async with thoonk.open_derived() as client:`` this client's link, another worker id.

        The derived client sends its commands on this client's connection
        (same server, key layout and codecs, result codecs copied) under its
        own ``worker_id`` (a fresh one by default), so that its claims and
        heartbeats are told apart: one per run of an app that shares a
        process with others (the sync facade's workers). Its pub/sub
        connection and result listeners are its own, opened on first use and
        closed when the block ends; this client stays connected.
        """
        async with open_service_nursery() as nursery:
            derived = Thoonk(
                self.redis,
                nursery,
                url=self.url,
                cluster=self.cluster,
                codec=self.codec,
                worker_id=worker_id or default_worker_id(),
            )
            derived.result_codecs.update(self.result_codecs)
            try:
                yield derived
            finally:
                nursery.cancel_scope.cancel()

    # ---------------------------------------------------------------- objects

    def job(
        self, name: str, *, codec: Codec | None = None, result_codec: Codec | None = None
    ) -> Job:
        """The job queue ``name`` (created on first publish; see :meth:`Job.create`).

        ``result_codec``: how its results are encoded and decoded (default: the
        one in :attr:`result_codecs` for ``name``, else ``codec``).
        """
        from ._job import Job

        return Job(self, name, codec=codec, result_codec=result_codec)

    def feed(self, name: str, *, codec: Codec | None = None) -> Feed:
        """The feed ``name``."""
        from ._feed import Feed

        return Feed(self, name, codec=codec)

    def sorted_feed(self, name: str, *, codec: Codec | None = None) -> SortedFeed:
        """The sorted (hand-ordered) feed ``name``."""
        from ._sorted_feed import SortedFeed

        return SortedFeed(self, name, codec=codec)

    def queue(self, name: str, *, codec: Codec | None = None) -> Queue:
        """The queue ``name`` (each item goes to exactly one consumer)."""
        from ._queue import Queue

        return Queue(self, name, codec=codec)

    async def names(self, kind: contract.Kind) -> list[str]:
        """The names in the registry of one object type, sorted."""
        registry = contract.REGISTRIES.get(kind) if isinstance(kind, str) else None
        if registry is None:
            raise UsageError(
                f"unknown object type {reprlib.repr(kind)}; "
                f"use one of {sorted(contract.REGISTRIES)}"
            )
        members = await self.execute("SMEMBERS", registry, idempotent=True)
        return sorted(contract.id_text(m) for m in members)

    async def discover(
        self,
        kinds: Iterable[contract.Kind] | None = None,
        *,
        budget_s: float = DISCOVERY_BUDGET_S,
        count: int = SCAN_COUNT,
        scan: bool = True,
    ) -> Discovery:
        """Every object of ``kinds`` (default: all types), registered or not.

        The registries, plus objects found by their keys with SCAN (the
        original JavaScript client never registers its job queues); those are
        marked ``registered=False``. O(keyspace): SCAN steps of ``count`` keys,
        for at most ``budget_s`` seconds (then ``complete`` is False);
        ``scan=False`` reads the registries only. See
        :mod:`thoonk_actors.objects._discovery`.

        Raises:
            UsageError: an unknown type, a bad budget or count.
        """
        return await discover(self, kinds, budget_s=budget_s, count=count, scan=scan)

    async def register(self, kind: contract.Kind, name: str) -> bool:
        """Add an existing object that no registry names to its type's registry.

        ``await thoonk.register("job", "thumbnails")``: True when it was added,
        False when it was registered already (idempotent; one script).

        Raises:
            UsageError: an unknown type.
            InvalidNameError: the name breaks the naming rule (nothing sent).
            NoSuchObjectError: none of the object's keys exists.
        """
        return await register(self, kind, name)

    # ------------------------------------------------------------ running ops

    async def run(self, call: Call[T], *, shield: bool = False) -> T:
        """Run one contract script and decode its reply (raising its refusal).

        A script the contract marks idempotent (a read) is sent again across
        a reconnect. ``shield``: once the script is sent, its reply is awaited
        even if the caller is cancelled (for scripts that take something, like
        a claim); connecting and retry pauses stay cancellable.
        """
        reply = await self.redis.evalsha(
            call.script, call.keys, call.args, idempotent=call.idempotent, shield=shield
        )
        result = call.decode(reply)
        if call.after:
            await self.redis.pipeline(list(call.after))
        return result

    async def run_many(self, calls: Iterable[Call[Any]]) -> list[Any]:
        """Several contract scripts in one pipeline; decoded results in order.

        The first refusal is raised after every script ran (each is atomic on
        its own; the batch is not).
        """
        calls = list(calls)
        replies = await self.redis.evalsha_many(
            [(c.script, c.keys, c.args) for c in calls], raise_on_error=False
        )
        return await self._decode_all(calls, replies)

    async def _decode_all(self, calls: Sequence[Call[Any]], replies: Sequence[Any]) -> list[Any]:
        """Decode each reply, run the calls' ``after`` commands, raise the first refusal."""
        results: list[Any] = []
        first_error: BaseException | None = None
        for call, reply in zip(calls, replies, strict=True):
            try:
                if isinstance(reply, Exception):
                    raise reply
                results.append(call.decode(reply))
            except Exception as exc:
                results.append(exc)
                first_error = first_error or exc
        after = [command for call in calls for command in call.after]
        if after:
            await self.redis.pipeline(after)
        if first_error is not None:
            raise first_error
        return results

    async def run_durable(
        self, calls: Sequence[Call[Any]], *, replicas: int, wait_s: float
    ) -> tuple[list[Any], int]:
        """Scripts of one object, then ``WAIT replicas``: (decoded results, replicas that acked).

        The scripts and the WAIT go in one pipeline on a connection of their
        own to the node of the object's slot (WAIT counts the writes of its
        own connection). A refusal is raised after every script ran, as in
        :meth:`run_many`; the replica count is checked by the caller.
        """
        replies, acked = await self.redis.evalsha_durable(
            [(c.script, c.keys, c.args) for c in calls],
            replicas=replicas,
            timeout_ms=max(1, math.ceil(wait_s * 1000)),
        )
        return await self._decode_all(calls, replies), acked

    async def read(self, command: Command[T]) -> T:
        """Run one plain read command and decode its reply.

        Reads are sent again across a reconnect. A blocking read (``block_s``
        set: BLMOVE) runs on a dedicated connection, with a deadline past its
        server-side timeout so a silently dead connection is noticed.
        """
        if command.block_s is not None:
            reply = await self.redis.execute_blocking(
                *command.args, block_s=command.block_s, idempotent=command.idempotent
            )
        else:
            reply = await self.redis.execute(*command.args, idempotent=command.idempotent)
        return command.decode(reply)

    async def run_behind_block(self, command: Command[Any], call: Call[T]) -> T:
        """A blocking read, then a contract script that runs as soon as it returns.

        ``command`` (``block_s`` set: BLMOVE) and ``call`` go in one write on a
        dedicated connection, so the script costs no round trip of its own.
        The script runs whether the read was served or timed out, and its
        decoded reply is returned. A cancel cuts the read, not the script:
        the script still runs and its result is returned (the caller sees
        the cancel at its next checkpoint). A broken or silent connection
        raises :class:`ThoonkConnectionError` / :class:`ThoonkTimeoutError`:
        the script may have run (never sent again). NOSCRIPT falls back to
        loading it.

        On a cluster the two are sent one after the other (the read, cut by a
        cancel as any read, then the script as :meth:`run` with ``shield``).
        """
        redis = self.redis
        if isinstance(redis, ClusterClient):
            await self.read(command)
            return await self.run(call, shield=True)
        _, reply = await redis.evalsha_behind_block(
            command.args, call.script, call.keys, call.args, block_s=command.block_s
        )
        result = call.decode(reply)
        if call.after:
            with trio.CancelScope(shield=True):  # (cluster only: never here today)
                await redis.pipeline(list(call.after))
        return result

    async def execute(self, *args: Any, idempotent: bool = False) -> Any:
        """A raw Redis command (``idempotent``: sent again across a reconnect).

        Error replies arrive as :class:`ThoonkError` subclasses already (the
        transport decodes them: WRONGTYPE is a :class:`WrongTypeError`, ...).
        """
        return await self.redis.execute(*args, idempotent=idempotent)

    # ---------------------------------------------------------------- pub/sub

    async def pubsub(self) -> PubSub | ClusterPubSub:
        """The client's shared pub/sub connection (opened on first use)."""
        if self._pubsub is None:
            async with self._pubsub_lock:
                if self._pubsub is None:
                    self._pubsub = await self._nursery.start(self._hold_pubsub)
        return self._pubsub

    async def _hold_pubsub(self, task_status: trio.TaskStatus[PubSub | ClusterPubSub]) -> None:
        redis = self.redis
        opened: AbstractAsyncContextManager[PubSub | ClusterPubSub] = (
            redis.open_pubsub(_publishing_object)
            if isinstance(redis, ClusterClient)
            else open_pubsub(redis.config)
        )
        async with opened as pubsub:
            task_status.started(pubsub)
            await trio.sleep_forever()

    def result_router_nowait(self, job: Job) -> ResultRouter | None:
        """The queue's result router if it is running already (every publish but the first)."""
        return self._routers.get(job.name)

    async def result_router(self, job: Job) -> ResultRouter:
        """The shared finish/retract listener of a job queue (subscribed on return)."""
        router = self._routers.get(job.name)
        if router is None:
            async with self._routers_lock:
                router = self._routers.get(job.name)
                if router is None:
                    router = ResultRouter(job.channel("finish"), job.channel("retract"))
                    await self._nursery.start(self._serve_router, router)
                    self._routers[job.name] = router
        return router

    async def result_barrier(self, router: ResultRouter) -> None:
        """Hand the router every finish/retract event published before this call.

        A read on the command connection can see a finish whose event is still
        on its way on the pub/sub connection; the reply to a PING on the pub/sub
        connection comes after every message published before it was sent.
        """
        await (await self.pubsub()).barrier()
        router.drain()

    async def _serve_router(self, router: ResultRouter, task_status: trio.TaskStatus[None]) -> None:
        async with self.subscribe(
            [router.finish_channel.decode(), router.retract_channel.decode()], buffer=1 << 16
        ) as sub:
            task_status.started()
            await router.serve(sub)

    @asynccontextmanager
    async def subscribe(
        self, channels: Iterable[str] = (), patterns: Iterable[str] = (), *, buffer: int = 1024
    ) -> AsyncIterator[Subscription]:
        """Raw channel subscription on the shared connection (acknowledged on entry)."""
        pubsub = await self.pubsub()
        async with pubsub.subscribe(channels, patterns, buffer=buffer) as sub:
            yield sub


def _publishing_object(channel: bytes) -> bytes | None:
    """Cluster pub/sub routing: ``event.job.finish:emails`` -> ``{emails}``.

    The object's scripts run (and PUBLISH) on the primary of that hash tag's
    slot; subscribing there keeps events in order with the object's replies.
    """
    try:
        _, _, name = contract.parse_channel(channel)
    except UnexpectedReplyError:
        return None  # not a Thoonk channel: any node hears it
    return b"{%s}" % name.encode("utf-8", "surrogateescape")


class ThoonkOptions(RedisOptions, total=False):
    """The keyword options of :func:`open_thoonk` and ``sync.connect``.

    Synopsis: ``connect(url, codec=RawCodec(), response_timeout=5)``.

    :func:`open_thoonk`'s own (``cluster``, ``codec``, ``worker_id``,
    ``result_codecs``) and every :class:`~thoonk_actors.transport.RedisOptions`;
    a TypedDict so that type checkers and editors know them (a test keeps it
    equal to ``open_thoonk``'s parameters).
    """

    cluster: bool
    codec: Codec | None
    worker_id: str | None
    result_codecs: Mapping[str, Codec] | None


@asynccontextmanager
async def open_thoonk(
    url: str | None = None,
    *,
    cluster: bool = False,
    codec: Codec | None = None,
    worker_id: str | None = None,
    result_codecs: Mapping[str, Codec] | None = None,
    **redis_options: Unpack[RedisOptions],
) -> AsyncIterator[Thoonk]:
    """Connect a :class:`Thoonk` client for the duration of the block.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://``; None means
            ``$THOONK_REDIS_URL`` or the embedded server. ``redis+cluster://h1:p1,h2:p2``
            (``rediss+cluster://`` for TLS) connects to a Redis Cluster (preview: see
            docs/operations.md) and implies ``cluster=True``.
        cluster: hash-tagged key names (``job.ids:{emails}``) for Redis Cluster.
        codec: how items and results are encoded; JSON by default (what the
            original JavaScript Thoonk Jobs reads and writes).
        worker_id: how this client's claims and heartbeats are labelled.
        result_codecs: per-queue result codecs (see :attr:`Thoonk.result_codecs`),
            e.g. ``{"thumbnails": RawCodec(text=True)}`` for a queue whose
            publishers are original JavaScript clients.
        redis_options: :class:`~thoonk_actors.transport.RedisOptions`, overriding
            the URL's: ``client_name`` (CLIENT SETNAME for this client's
            connections; None keeps the URL's), ``response_timeout``,
            ``health_timeout``, ``ssl_ca_certs``, ...

    Raises:
        UsageError: an unknown or invalid option (before anything is started).
        ThoonkConnectionError: the server cannot be reached.
        EmbeddedServerError: no URL was given and the embedded server cannot start.
    """
    RedisConfig.check_options(redis_options)  # a typo must not start an embedded server
    resolved = await resolve_url(url)
    # An embedded server heals itself (unless the caller brought its own revive).
    options: RedisOptions = {"revive": reviver_for(resolved), **redis_options}
    if "client_name" in options and options["client_name"] is None:
        del options["client_name"]  # None: the URL's name, as if not given
    opener: AbstractAsyncContextManager[RedisClient | ClusterClient]
    if is_cluster_url(resolved):
        cluster = True  # one object's keys must share a slot
        opener = open_cluster(resolved, **options)
    else:
        opener = open_redis(resolved, **options)
    async with open_service_nursery() as nursery:
        # Cancel the background tasks only after the client is closed: its
        # cleanup awaits, and in a cancelled scope they would raise Cancelled,
        # which would replace (and, absorbed by this scope, lose) an error
        # raised in the caller's block.
        try:
            async with opener as redis:
                thoonk = Thoonk(
                    redis,
                    nursery,
                    url=resolved,
                    cluster=cluster,
                    codec=codec or JsonCodec(),
                    worker_id=worker_id or default_worker_id(),
                )
                thoonk.result_codecs.update(result_codecs or {})
                yield thoonk
        finally:
            nursery.cancel_scope.cancel()
