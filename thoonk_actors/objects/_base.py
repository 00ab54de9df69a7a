"""What every Thoonk object handle has: a name, keys, a codec, a lifecycle, events.

Synopsis::

    feed = thoonk.feed("news")
    await feed.create({"max_length": 100}, exist_ok=True)
    await feed.configure(max_length=None)
    config = await feed.config()          # FeedConfig(max_length=None)
    async with feed.events() as events:   # acknowledged on entry
        async for event in events: ...
    await feed.delete()
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import trio

from .. import contract
from .._errors import InvalidConfigError, NoSuchObjectError, UnexpectedReplyError, UsageError
from ..contract import Codec, Kind
from ..transport import Gap, Message, Subscription

if TYPE_CHECKING:
    from ._thoonk import Thoonk

K = TypeVar("K", bound=contract.ObjectKeys)


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """One event of an object: ``event`` (``publish``, ``finish``, ...), the id, the rest.

    ``data`` is the payload after the first NUL (an item, a result, a count,
    a position), or None when there was none.
    """

    kind: Kind
    name: str
    event: str
    id: str
    data: bytes | None

    @classmethod
    def from_message(cls, message: Message) -> ObjectEvent:
        """``ObjectEvent.from_message(message)``: the event a pub/sub :class:`Message` carries.

        For code that routes raw messages itself (the runtime's one listener
        per process) and parses only the ones it keeps.

        Raises:
            UnexpectedReplyError: not a Thoonk event channel, or a malformed payload.
        """
        parsed = contract.parse_event(message.channel, message.data)
        return cls(parsed.kind, parsed.name, parsed.event, parsed.id, parsed.data)


def _parsed(message: Message | Gap) -> ObjectEvent | Gap | None:
    """The event of a pub/sub message; None for a foreign channel a pattern caught."""
    if isinstance(message, Gap):
        return message
    try:
        return ObjectEvent.from_message(message)
    except UnexpectedReplyError:
        return None


class Events:
    """The events of one object, with :class:`Gap` notices; iterate it.

    A :class:`Gap` means events may have been missed
    (reconnect, or this consumer fell behind): re-read the stored state.
    """

    def __init__(self, subscription: Subscription) -> None:
        self._sub = subscription

    async def receive(self) -> ObjectEvent | Gap:
        """The next event or gap."""
        while True:
            event = _parsed(await self._sub.receive())
            if event is not None:
                return event

    def receive_nowait(self) -> ObjectEvent | Gap | None:
        """The next event or gap already received, or None when there is none."""
        while True:
            try:
                event = _parsed(self._sub.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return None
            if event is not None:
                return event

    def __aiter__(self) -> Events:
        return self

    async def __anext__(self) -> ObjectEvent | Gap:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


class ThoonkObject(Generic[K]):
    """Base of :class:`Job`, :class:`Feed`, :class:`SortedFeed` and :class:`Queue`."""

    KIND: ClassVar[Kind]
    KEYS: ClassVar[type[contract.ObjectKeys]]
    #: the events this type publishes (what :meth:`events` subscribes to by default)
    EVENTS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, thoonk: Thoonk, name: str, *, codec: Codec | None = None) -> None:
        self.thoonk = thoonk
        self.keys: K = self.KEYS.of(name, cluster=thoonk.cluster)  # type: ignore[assignment]
        self.name = name
        self.codec: Codec = codec or thoonk.codec

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # ------------------------------------------------------------- lifecycle

    async def create(self, config: dict[str, Any] | None = None, *, exist_ok: bool = False) -> bool:
        """Register the object with a validated config; True if it was created.

        Raises:
            InvalidConfigError: an unknown setting or a bad value (nothing written).
            ObjectExistsError: it exists already and ``exist_ok`` is false.
        """
        if config is not None and not isinstance(config, Mapping):
            raise InvalidConfigError(
                f"the config of {self.keys.label} is a dict of settings "
                f"(e.g. {{'timeout': 30000}}), not a {type(config).__name__}"
            )
        try:
            return await self.thoonk.run(
                contract.object_create(self.keys, config or {}, exist_ok=exist_ok)  # type: ignore[arg-type]
            )
        finally:
            self.thoonk.durability.forget(self.name)  # a publish that read it meanwhile too

    async def configure(self, /, **changes: Any) -> None:
        """Change settings (``None`` removes one); publishes a ``config`` event.

        Raises:
            InvalidConfigError: an unknown setting or a bad value (nothing written).
            NoSuchObjectError: the object was never created.
        """
        # ``self`` is positional-only (``/``) so the sync twin's ParamSpec can take
        # ``**changes`` as they are (tests/sync/test_twins.py).
        call = contract.object_configure(self.keys, changes)  # type: ignore[arg-type]
        try:
            await self._configure(call, changes)
        finally:
            self.thoonk.durability.forget(self.name)  # publishes read the new settings

    async def _configure(self, call: contract.Call[None], changes: dict[str, Any]) -> None:
        try:
            await self.thoonk.run(call)
        except NoSuchObjectError:
            if not self.keys.cluster or not await self.exists():
                raise
            # Cluster mode: a publish registered it but the script cannot see
            # the registry (another slot) and no config hash exists yet. Give
            # it one with these settings; both steps are safe to retry.
            fields = {k: v for k, v in changes.items() if v is not None}
            if not await self.create(fields, exist_ok=True):
                await self.thoonk.run(call)  # someone else created it meanwhile

    async def config(self) -> Any:
        """The typed config (defaults for unset settings)."""
        return await self.thoonk.read(contract.object_config(self.keys))  # type: ignore[call-overload]

    async def delete(self) -> bool:
        """Delete every key of the object and its registry entry; True if anything was there."""
        try:
            return await self.thoonk.run(contract.object_delete(self.keys))  # type: ignore[arg-type]
        finally:
            self.thoonk.durability.forget(self.name)

    async def exists(self) -> bool:
        """Whether the object is registered (publishing registers it too)."""
        registry = await self.thoonk.execute("SISMEMBER", self.keys.registry, self.name)
        if registry:
            return True
        return bool(await self.thoonk.execute("EXISTS", self.keys.config))

    def _items_of(self, items: Iterable[Any], method: str) -> Iterable[Any]:
        """``items`` if it is an iterable of items, else UsageError (not a bare TypeError).

        A string or bytes is refused too: iterating it would store one item per
        character, which is never what ``put_many("report")`` meant.
        """
        if isinstance(items, str | bytes | bytearray | memoryview):
            raise UsageError(
                f"{method}() of {self.keys.label} takes an iterable of items (a list, say), "
                f"not a {type(items).__name__}, which would be split into one item per "
                f"character; for one item use the single-item call, or pass [{items!r:.40}]"
            )
        if not isinstance(items, Iterable):
            raise UsageError(
                f"{method}() of {self.keys.label} takes an iterable of items (a list, say), "
                f"not a {type(items).__name__}; for one item use the single-item call"
            )
        return items

    # ----------------------------------------------------------------- events

    def channel(self, event: str) -> str:
        """The pub/sub channel of one event of this object."""
        return contract.channel(self.KIND, event, self.name)

    @asynccontextmanager
    async def events(
        self, events: Iterable[str] | None = None, *, buffer: int = 1024
    ) -> AsyncIterator[Events]:
        """Subscribe to this object's events for the block (acknowledged on entry).

        ``events`` defaults to every event the type publishes, plus ``config``
        and ``delete``.
        """
        wanted = tuple(events) if events is not None else (*self.EVENTS, "config", "delete")
        async with self.thoonk.subscribe([self.channel(e) for e in wanted], buffer=buffer) as sub:
            yield Events(sub)
