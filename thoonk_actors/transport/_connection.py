"""One multiplexed connection: many concurrent callers, one socket, FIFO replies.

Synopsis::

    conn = await Connection.open(config, nursery)
    pong = await conn.execute("PING")
    replies = await conn.pipeline([("INCR", "a"), ("GET", "a")])
    await conn.aclose()

How it stays in step: a caller appends its packed command to the outgoing
buffer *and* its reply slot to the pending queue in one synchronous step (trio
cannot switch tasks in between), so the order of slots is the order of bytes
on the wire. One writer task flushes whatever accumulated (concurrency turns
into pipelining by itself); one reader task feeds hiredis and hands each reply
to the oldest slot. A caller cancelled while waiting only marks its slot
abandoned: the reader still consumes that reply and drops it, so no caller
ever receives another caller's reply and the connection never leaves step.
Blocking commands (BLMOVE, BRPOP, ...) must not share a connection: see
:meth:`RedisClient.dedicated`.

Direct replies (``direct_replies=True``, plain sockets only; the client's
shared connection): reading the socket is a *turn* that one task holds at a
time, the reader task or a caller. A caller that sends while no reply is
outstanding and nobody holds the turn takes it and reads its own reply
(one task switch per call instead of two: the reader task does not wake,
then wake the caller). Whatever else arrives meanwhile (another caller sent
behind it) goes to its slots as the reader would hand it; when the caller's
own reply is in, it passes the turn to the reader task if replies are still
owed, or leaves it free. A caller cancelled while it reads passes the turn
the same way: its slot stays queued, abandoned, and the reader task consumes
and drops its reply, as above. The reader task, once nothing is owed, frees
the turn and sleeps until a call needs it. While the turn is free nobody
watches the socket, so :attr:`Connection.usable` looks at it (one
``poll``) and notices a hang-up there, before anything is sent.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Sequence
from typing import Any

import hiredis
import outcome
import trio

from ._broken import StreamErrors, broken
from ._config import RedisConfig
from ._connect import connect_stream
from ._errors import ThoonkConnectionError, ThoonkTimeoutError
from ._protocol import Command, error_from_reply, pack_command
from ._socket import PlainSocketStream

log = logging.getLogger(__name__)

_READ_SIZE = 1 << 18


class _Slot:
    """Where the replies of one call (one command or one pipeline) go.

    ``done`` is set by the reader (or by a break, with ``error``); ``task`` is
    the caller while it waits, and None when it is not waiting (not yet, or
    no longer because it was cancelled: then the replies are simply dropped).
    """

    __slots__ = ("count", "created", "done", "error", "replies", "task")

    def __init__(self, count: int, created: float) -> None:
        self.count = count
        self.created = created
        self.replies: list[Any] = []
        self.done = False
        self.error: Exception | None = None
        self.task: trio.lowlevel.Task | None = None

    def finish(self, error: Exception | None = None) -> None:
        self.done = True
        self.error = error
        task, self.task = self.task, None
        if task is not None:
            result: outcome.Outcome[list[Any]] = (
                outcome.Error(error) if error is not None else outcome.Value(self.replies)
            )
            trio.lowlevel.reschedule(task, result)


class Connection:
    """A greeted connection with its own reader and writer tasks."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        reader: hiredis.Reader,
        config: RedisConfig,
        *,
        blocking: bool = False,
        direct_replies: bool = False,
    ) -> None:
        self.config = config
        # A blocking connection waits for replies as long as the server holds
        # them: its caller sets a deadline per call instead of the watchdog.
        self._reply_timeout = None if blocking else config.reply_timeout
        self._stream = stream
        self._reader = reader
        self._pending: collections.deque[_Slot] = collections.deque()
        self._outgoing: list[bytes] = []
        self._write_wanted = trio.Event()
        self._write_lock = trio.Lock()
        self._cancel_scope = trio.CancelScope()
        self._broken: ThoonkConnectionError | ThoonkTimeoutError | None = None
        self._closed = False
        self._plain = stream if isinstance(stream, PlainSocketStream) else None
        # Who reads the socket (see the module docstring): the reader task
        # (always, without direct replies: TLS, blocking and cluster
        # connections), the caller of ``_owner``, or nobody (both unset).
        self._reader_turn = not (direct_replies and self._plain is not None)
        self._owner: _Slot | None = None
        self._parked_reader: trio.lowlevel.Task | None = None
        #: Calls that read their own reply (for tests: the direct path was taken).
        self.direct_calls = 0
        #: The server's id of this connection (``CLIENT ID``), once someone asked:
        #: what ``CLIENT UNBLOCK`` needs (0: the server refused to tell).
        self.client_id: int | None = None
        # A stream failure inside breaks the connection (every waiting caller
        # gets the typed error) instead of propagating: raising would only end
        # the reader or writer task, as an ExceptionGroup from _run's nursery.
        self._breaks_on_stream_errors = StreamErrors(self.where, on_break=self._break)

    @classmethod
    async def open(
        cls,
        config: RedisConfig,
        nursery: trio.Nursery,
        *,
        blocking: bool = False,
        direct_replies: bool = False,
    ) -> Connection:
        """Connect, greet, and start the reader/writer tasks in ``nursery``.

        ``blocking``: for blocking commands (no reply watchdog, see
        :meth:`RedisClient.dedicated`). ``direct_replies``: a caller alone on
        the connection reads its own reply (module docstring; plain sockets
        only); check :attr:`usable` before each call, as the client's pool
        does, so a hang-up while idle is noticed before sending.
        """
        stream, reader = await connect_stream(config)
        conn = cls(stream, reader, config, blocking=blocking, direct_replies=direct_replies)
        nursery.start_soon(conn._run)
        return conn

    # ------------------------------------------------------------------ state

    @property
    def usable(self) -> bool:
        """False once closed or broken; a pool replaces such a connection.

        On an idle direct-replies connection nobody watches the socket, so
        this looks (one ``poll``): a hang-up or stray bytes break
        the connection here, before a command is sent on it. Asked from
        another thread, it only looks (False if something came).
        """
        if self._closed or self._broken is not None:
            return False
        if self._reader_turn or self._owner is not None:
            return True
        assert self._plain is not None  # only a plain socket gives the turn up
        if self._plain.readable_now():
            if not trio.lowlevel.in_trio_run():
                # Another thread asks (a status check): the connection is as
                # good as broken, but breaking it is its own thread's job.
                return False
            self._look_while_idle()
        return self._broken is None

    @property
    def in_flight(self) -> int:
        """Calls whose replies have not all arrived (abandoned ones included)."""
        return len(self._pending)

    @property
    def where(self) -> str:
        return self.config.describe()

    # ---------------------------------------------------------------- calling

    async def execute(self, *args: Any) -> Any:
        """Send one command and wait for its reply; error replies raise."""
        (reply,) = await self._call([pack_command(args)], 1)
        if isinstance(reply, hiredis.ReplyError):
            raise error_from_reply(reply, self.where)
        return reply

    async def pipeline(
        self, commands: Sequence[Command], *, on_cancel: Callable[[], None] | None = None
    ) -> list[Any]:
        """Send several commands in one write; their replies, in order.

        Error replies are returned in place as exceptions (not raised), so the
        caller sees which command failed and what the others did.

        ``on_cancel`` (connections without direct replies: blocking ones):
        once sent, a cancel of the caller does not abandon the call:
        ``on_cancel()`` is called (at once, from the task that cancels) and
        must make the replies come soon, or break the connection
        (:meth:`fail`); the caller goes on waiting and gets the replies (or
        the error), and sees the cancel at its next checkpoint.
        """
        if not commands:
            await trio.lowlevel.checkpoint()
            return []
        replies = await self._call(
            [pack_command(c) for c in commands], len(commands), on_cancel=on_cancel
        )
        return [
            error_from_reply(r, self.where) if isinstance(r, hiredis.ReplyError) else r
            for r in replies
        ]

    async def _call(
        self, packed: list[bytes], count: int, *, on_cancel: Callable[[], None] | None = None
    ) -> list[Any]:
        if self._closed or self._broken is not None:
            await trio.lowlevel.checkpoint()
            raise self._unusable_error()
        if on_cancel is not None and not self._reader_turn:
            raise AssertionError("on_cancel needs the reader task (a blocking connection)")
        slot = _Slot(count, trio.current_time())
        # The slot joins the queue in the same synchronous step in which its
        # bytes are written or queued for writing: that keeps replies matched.
        self._pending.append(slot)
        # Nobody reads (so no reply is owed either): this caller will read its own.
        direct = not self._reader_turn and self._owner is None
        if direct:
            self._owner = slot
        if not self._outgoing and not self._write_lock.locked():
            # Fast path: nothing is waiting to be written, so write ours now
            # instead of waking the writer task (one task switch less).
            data = b"".join(packed)
            sent = self._send_nowait(data) if self._plain is not None else 0
            if sent < len(data):
                self._write_lock.acquire_nowait()
                try:
                    await self._send_shielded(data[sent:])
                finally:
                    self._write_lock.release()
        else:
            self._outgoing.extend(packed)
            self._write_wanted.set()
        if direct:
            return await self._read_own(slot)
        if not slot.done:
            slot.task = trio.lowlevel.current_task()

            def abort(_: Any) -> trio.lowlevel.Abort:
                if on_cancel is not None:
                    # Not abandoned: the slot's finish reschedules this task.
                    on_cancel()
                    return trio.lowlevel.Abort.FAILED
                slot.task = None  # the reader will drop this call's replies
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)
        elif on_cancel is not None:
            await trio.lowlevel.cancel_shielded_checkpoint()  # the replies are in: keep them
        else:
            await trio.lowlevel.checkpoint()
        if slot.error is not None:
            raise slot.error
        return slot.replies

    async def _read_own(self, slot: _Slot) -> list[Any]:
        """Read until ``slot`` (this caller's) is done, handing out what else arrives.

        Holds the read turn throughout; gives it up in ``finally``, also when
        cancelled (the slot then stays queued, abandoned, for the reader task
        to consume and drop) or when the connection broke (``_break`` has
        finished the slot with the error; closing the socket wakes the wait).
        """
        self.direct_calls += 1
        plain = self._plain
        assert plain is not None
        try:
            if slot.done:  # broken while sending
                await trio.lowlevel.checkpoint()
            while not slot.done:
                with self._breaks_on_stream_errors:
                    data = await plain.receive_when_ready(_READ_SIZE)
                    if data:
                        self._reader.feed(data)
                        self._dispatch()
                    else:
                        self._break(broken(self.where, "Redis closed the connection"))
        finally:
            if self._owner is slot:
                self._owner = None
                if self._pending:
                    self._give_reader_turn()
        if slot.error is not None:
            raise slot.error
        return slot.replies

    def _give_reader_turn(self) -> None:
        """Replies are owed and nobody reads: wake the reader task to read them."""
        self._reader_turn = True
        task, self._parked_reader = self._parked_reader, None
        if task is not None:
            trio.lowlevel.reschedule(task)

    def _look_while_idle(self) -> None:
        """Something came on the socket of an idle direct connection: a hang-up, or stray bytes."""
        assert self._plain is not None
        with self._breaks_on_stream_errors:
            data = self._plain.receive_nowait(_READ_SIZE)
            if data is not None:
                # No reply is owed: any byte is one nobody asked for.
                why = "Redis closed the connection"
                if data:
                    why = "Redis sent a reply nobody asked for"
                self._break(broken(self.where, why, "no command was in flight"))

    def _send_nowait(self, data: bytes) -> int:
        assert self._plain is not None
        with self._breaks_on_stream_errors:
            return self._plain.send_nowait(data)
        return len(data)  # broken: nothing more to send, the callers were failed

    async def _watchdog(self, limit: float) -> None:
        """Declare the connection broken when the oldest call waited too long.

        One timer per connection instead of one per call: replies come in
        order, so only the oldest waiting call can be the first to time out.
        An idle connection is PINGed every third of ``limit``, so one that died
        without a word (a dropped NAT entry) is replaced before a caller sends
        on it, not after.
        """
        pending = self._pending
        while True:
            if not pending:
                await trio.sleep(limit / 3)
                if not pending and self.usable:
                    self._ping()
                continue
            head = pending[0]
            await trio.sleep_until(head.created + limit)
            if pending and pending[0] is head:
                # FIFO replies cannot skip one: the only way on is a new connection.
                self._break(
                    ThoonkTimeoutError(
                        f"Redis at {self.where} did not reply within {limit:g} s (a dead "
                        "connection, or a script slower than health_timeout); the connection "
                        "was closed (the command may or may not have run)"
                    )
                )
                return

    def _ping(self) -> None:
        """A PING whose reply nobody waits for (the reader drops it); only the watchdog looks."""
        self._pending.append(_Slot(1, trio.current_time()))
        self._outgoing.append(pack_command(("PING",)))
        self._write_wanted.set()
        if not self._reader_turn and self._owner is None:
            self._give_reader_turn()

    async def _send_shielded(self, data: bytes) -> None:
        """Write bytes whole: a write cut by a cancellation would desync the stream."""
        timeout = self.config.reply_timeout
        with trio.CancelScope(shield=True) as scope:
            if timeout is not None:
                scope.deadline = trio.current_time() + timeout
            with self._breaks_on_stream_errors:
                await self._stream.send_all(data)
        if scope.cancelled_caught:
            self._break(
                ThoonkTimeoutError(
                    f"Redis at {self.where} stopped reading for {timeout:g} s; "
                    "the connection was closed"
                )
            )

    def fail(self, error: ThoonkConnectionError | ThoonkTimeoutError) -> None:
        """Break the connection now: every waiting caller gets ``error`` (a copy)."""
        self._break(error)

    def _unusable_error(self) -> Exception:
        if self._broken is not None:
            # A copy per caller (one exception object raised in many tasks
            # would pile up their tracebacks), with the cause that broke it.
            error = type(self._broken)(str(self._broken))
            error.__cause__ = self._broken.__cause__
            return error
        return ThoonkConnectionError(f"the connection to Redis at {self.where} is closed")

    # -------------------------------------------------------------- lifecycle

    def _break(self, exc: ThoonkConnectionError | ThoonkTimeoutError) -> None:
        """Fail every waiting caller and stop the tasks; idempotent."""
        if self._broken is None and not self._closed:
            self._broken = exc
        self._cancel_scope.cancel()
        pending, self._pending = self._pending, collections.deque()
        for slot in pending:
            slot.finish(self._unusable_error())

    async def aclose(self) -> None:
        """Close now; callers still waiting get :class:`ThoonkConnectionError`."""
        if not self._closed:
            self._closed = True
            self._break(ThoonkConnectionError(f"the connection to {self.where} was closed"))
        await trio.aclose_forcefully(self._stream)

    async def _run(self) -> None:
        try:
            with self._cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write_loop)
                    if self._reply_timeout is not None:
                        nursery.start_soon(self._watchdog, self._reply_timeout)
                    await self._read_guarded()
                    nursery.cancel_scope.cancel()
        finally:
            # Also when the client's nursery is cancelled around us.
            if self._broken is None:
                self._break(ThoonkConnectionError(f"the connection to {self.where} was closed"))
            await trio.aclose_forcefully(self._stream)

    async def _read_guarded(self) -> None:
        with self._breaks_on_stream_errors:
            await self._read_loop()

    async def _write_loop(self) -> None:
        while True:
            await self._write_wanted.wait()
            self._write_wanted = trio.Event()
            async with self._write_lock:
                if self._outgoing:
                    data = b"".join(self._outgoing)
                    self._outgoing.clear()
                    await self._send_shielded(data)

    async def _read_loop(self) -> None:
        direct = not self._reader_turn
        while True:
            if not self._reader_turn:
                await self._wait_for_turn()
                continue
            data = await self._stream.receive_some(_READ_SIZE)
            if not data:
                self._break(broken(self.where, "Redis closed the connection"))
                return
            self._reader.feed(bytes(data))
            self._dispatch()
            if self._broken is not None or self._closed:
                return
            if direct and not self._pending:
                self._reader_turn = False  # nothing owed: the next caller reads its own

    async def _wait_for_turn(self) -> None:
        self._parked_reader = trio.lowlevel.current_task()

        def abort(_: Any) -> trio.lowlevel.Abort:
            self._parked_reader = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def _dispatch(self) -> None:
        """Hand every complete reply hiredis holds to the oldest slots, in order."""
        reader = self._reader
        pending = self._pending
        while (reply := reader.gets()) is not False:
            if not pending:
                self._break(broken(self.where, "Redis sent a reply nobody asked for"))
                return
            slot = pending[0]
            slot.replies.append(reply)
            if len(slot.replies) == slot.count:
                pending.popleft()
                slot.finish()
