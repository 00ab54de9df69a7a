"""A feed actor: one task that feeds its handler the events of one feed, in order.

Synopsis::

    actor = FeedActor(registration, thoonk, mailbox)
    nursery.start_soon(actor.serve)     # supervised: a crash restarts it with a resync

Events come from the process's :class:`EventRouter` through the actor's own
bounded :class:`Mailbox`. The handler gets decoded events (``FeedEvent`` or
``SortedFeedEvent``) and, when it must rebuild its state, a :class:`Resync`
with the stored items: first at start (``snapshot=True``), then after every
overflow, reconnect or restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, Protocol

import trio

from .._errors import ThoonkError
from ..contract import Call
from ..objects import Message, ObjectEvent, Snapshot, Thoonk
from ._mailbox import Mailbox, Missed
from ._registry import FeedRegistration
from ._resync import Resync, ResyncReason
from ._snapshots import SnapshotReader
from ._stats import ActorCounters, ActorStatistics
from ._supervise import supervise

log = logging.getLogger(__name__)


class Watchable(Protocol):
    """What an actor needs of a feed: its channels, a snapshot, a decoder."""

    EVENTS: ClassVar[tuple[str, ...]]

    def channel(self, event: str) -> str: ...

    async def snapshot(self) -> Snapshot: ...

    def snapshot_call(self, *, skip_undecodable: bool = False) -> Call[Snapshot]: ...

    def decode_event(self, event: ObjectEvent) -> Any: ...


def watched_object(thoonk: Thoonk, registration: FeedRegistration) -> Watchable:
    """The feed object a registration watches."""
    if registration.kind == "sorted_feed":
        return thoonk.sorted_feed(registration.name)
    return thoonk.feed(registration.name)


def channels_of(obj: Watchable) -> list[str]:
    """Every channel an actor of ``obj`` listens to (its events, ``config``, ``delete``)."""
    return [obj.channel(event) for event in (*obj.EVENTS, "config", "delete")]


class FeedActor:
    """Runs one feed registration's handler (see the module doc)."""

    # Thousands per process: no per-instance dict.
    __slots__ = (
        "_busy",
        "_counters",
        "_floor",
        "_mailbox",
        "_obj",
        "_on_started",
        "_pending",
        "_snapshots",
        "_stats",
        "registration",
        "skipped",
    )

    def __init__(
        self,
        registration: FeedRegistration,
        obj: Watchable,
        mailbox: Mailbox,
        snapshots: SnapshotReader | None = None,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        self.registration = registration
        self._obj = obj
        self._mailbox = mailbox
        self._snapshots = snapshots
        #: Called once, after the start resync (the app's garbage collector pause).
        self._on_started = on_started
        self._counters = ActorCounters()
        self._pending: ResyncReason | None = "start" if registration.snapshot else None
        self._busy = False
        # The change sequence of the last snapshot: events at or below it are
        # already in it (sorted feeds; None = pass every event on).
        self._floor: int | None = None
        self.skipped = 0
        self._stats: ActorStatistics | None = None

    @property
    def idle(self) -> bool:
        """Nothing to do: no resync pending, nothing buffered, the handler not running."""
        return self._pending is None and not self._busy and self._mailbox.buffered == 0

    def statistics(self) -> ActorStatistics:
        """This actor's counters, frozen; the same object until one of them changes.

        The app refreshes every actor's statistics twice a second: an idle
        actor costs one comparison then, and no allocation (thousands of idle
        actors made that refresh block the loop and feed the GC).
        """
        c = self._counters
        mailbox = self._mailbox
        cached = self._stats
        if (
            cached is not None
            and cached.handled == c.handled
            and cached.buffered == mailbox.buffered
            and cached.dropped == mailbox.dropped
            and cached.resyncs == c.resyncs
            and cached.restarts == c.restarts
        ):
            return cached
        self._stats = ActorStatistics(
            name=self.registration.name,
            kind=self.registration.kind,
            handled=c.handled,
            buffered=mailbox.buffered,
            dropped=mailbox.dropped,
            resyncs=c.resyncs,
            restarts=c.restarts,
        )
        return self._stats

    def serve(self) -> Coroutine[Any, Any, None]:
        """``await actor.serve()``: run until cancelled, restarting (with a resync) after a crash.

        Not ``async def`` on purpose: it hands back the supervisor's coroutine
        itself, one coroutine frame less per actor for as long as it runs
        (thousands of idle actors, issue 12).
        """
        return supervise(
            self._run, what=self.registration.label, logger=log, on_restart=self._restarted
        )

    def _restarted(self) -> None:
        self._counters.restarts += 1
        self._mailbox.activity.changes += 1
        self._pending = "restart"

    async def _run(self) -> None:
        if self._pending is not None:
            await self._resync(self._pending)
        receive = self._mailbox.receive
        decode = self._decode
        call = self._call
        counters = self._counters
        activity = self._mailbox.activity
        while True:
            message = await receive()
            if isinstance(message, Missed):
                await self._resync(message.reason)
                continue
            event = decode(message)
            if event is None:
                continue
            floor = self._floor
            if floor is not None:
                seq = getattr(event, "seq", None)
                if seq is not None and seq <= floor:
                    self.skipped += 1  # the snapshot already holds this change
                    continue
                if event.event == "delete":
                    # The sequence starts again with the next incarnation.
                    self._floor = None
            await call(event)
            counters.handled += 1
            activity.changes += 1

    async def _resync(self, reason: ResyncReason) -> None:
        # Until the handler has had this resync, a crash must bring it again.
        self._pending = reason
        # A stored item another client wrote that we cannot decode is left
        # out with a warning: raising would restart the actor into the same
        # item for ever, and later publishes would never be handled.
        if self._snapshots is not None:
            call = self._obj.snapshot_call(skip_undecodable=True)
            snapshot = await self._snapshots.read(call)
        else:
            snapshot = await self._obj.snapshot()
        self._floor = snapshot.seq
        await self._call(
            Resync(self.registration.name, tuple(snapshot.items), reason, snapshot.seq)
        )
        self._pending = None
        self._counters.resyncs += 1
        self._mailbox.activity.changes += 1
        if self._on_started is not None:
            on_started, self._on_started = self._on_started, None
            on_started()

    def _decode(self, message: Message) -> Any:
        try:
            return self._obj.decode_event(ObjectEvent.from_message(message))
        except ThoonkError as exc:
            # A foreign publisher wrote something we cannot read; the stored
            # state is still right, and the next resync shows it.
            log.warning("%s: skipped an event it cannot decode (%s)", self.registration.label, exc)
            return None

    async def _call(self, event: Any) -> None:
        handler = self.registration.handler
        self._busy = True
        try:
            if self.registration.is_async:
                await handler(event)
            else:
                await trio.to_thread.run_sync(handler, event)
        finally:
            self._busy = False
