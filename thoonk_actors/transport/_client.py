"""The client the rest of thoonk-actors talks to: reconnecting, scripts, blocking calls.

Synopsis::

    async with open_redis("redis://127.0.0.1:6379/0") as redis:
        await redis.execute("SET", "k", "v")
        await redis.execute("GET", "k", idempotent=True)      # resent across a reconnect
        await redis.evalsha(script, keys=["k"], args=[1])
        item = await redis.execute_blocking("BLMOVE", "a", "b", "RIGHT", "LEFT", 5, block_s=5)

Non-blocking commands share one multiplexed :class:`Connection` (concurrency
becomes pipelining). Blocking commands borrow a *dedicated* connection that is
returned to an idle pool afterwards, or closed when the call was cancelled in
flight (its late reply would otherwise arrive for nobody). When the shared
connection breaks, the next command reconnects with exponential backoff and
fails with :class:`ThoonkConnectionError` after ``reconnect_timeout`` seconds:
a dead server gives a clear error, never a hang.

What is sent again (see ``_retry``): a command the server answered with
LOADING (it did not run), and a command whose caller declared it
``idempotent`` when its connection broke or went silent in flight. Any other
command that may have run is never re-sent: only its caller knows whether
running it twice is safe.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, Unpack

import redis.exceptions
import trio

from .._nursery import open_service_nursery
from ._config import RedisConfig, RedisOptions
from ._connection import Connection
from ._errors import (
    ThoonkAuthenticationError,
    ThoonkConnectionError,
    ThoonkLoadingError,
    ThoonkTimeoutError,
    ThoonkTLSError,
)
from ._protocol import Arg, Command
from ._retry import (
    RECONNECT_BACKOFF,
    RESENDABLE,
    RETRY_BACKOFF,
    may_resend,
    resend_while_safe,
)

log = logging.getLogger(__name__)


class ScriptLike(Protocol):
    """What :meth:`RedisClient.evalsha` needs of a script."""

    @property
    def source(self) -> str: ...

    @property
    def sha1(self) -> str: ...


@dataclass(frozen=True, slots=True)
class LinkState:
    """Whether the client's shared connection is up (for status lines).

    Attributes:
        connected: the last attempt to use or open the shared connection worked.
        down_since: trio time at which it was found broken (None while connected).
        error: why the last reconnect attempt failed (None while connected, or
            before the first failed attempt).
    """

    connected: bool
    down_since: float | None = None
    error: str | None = None


class RedisClient:
    """A reconnecting Redis client on trio. Make one with :func:`open_redis`."""

    def __init__(
        self,
        config: RedisConfig,
        nursery: trio.Nursery,
        *,
        max_idle_dedicated: int = 16,
        direct_replies: bool = True,
    ) -> None:
        self.config = config
        # A caller alone on the shared connection reads its own reply (see
        # Connection); a cluster's node clients keep the reader task.
        self._direct_replies = direct_replies
        self._nursery = nursery
        self._shared: Connection | None = None
        # sha1s of the scripts whose full ACL check passed on the shared connection
        # (see _script_to_run); emptied with every new shared connection.
        self._acl_checked: set[str] = set()
        self._connect_lock = trio.Lock()
        self._idle: list[Connection] = []
        self._lent: set[Connection] = set()  # dedicated connections in use
        self._max_idle = max_idle_dedicated
        self._closed = False
        self._link = LinkState(connected=True)
        #: Connections opened so far (the server answered): see ``resend_while_safe``.
        self.connects = 0
        self._warned_unblock = False

    def link_state(self) -> LinkState:
        """Is the shared connection up? Cheap; for status lines that show the current state."""
        conn = self._shared
        if self._link.connected and conn is not None and not conn.usable:
            # Broken, and nobody has needed it since: it is down until reopened.
            self._link = LinkState(connected=False, down_since=trio.current_time())
        return self._link

    def _link_failed(self, exc: BaseException) -> None:
        since = self._link.down_since
        self._link = LinkState(
            connected=False,
            down_since=trio.current_time() if since is None else since,
            error=f"{type(exc).__name__}: {exc}",
        )

    def _connects(self) -> int:
        return self.connects

    @property
    def where(self) -> str:
        """The server, for messages (no password)."""
        return self.config.describe()

    @property
    def max_block(self) -> float:
        """The longest server-side block to ask for in one blocking read (0: no limit).

        Wait longer in several reads: each one is then checked against a dead
        connection (see ``RedisConfig.health_timeout``).
        """
        return self.config.max_block

    # -------------------------------------------------------------- connecting

    async def _open_with_backoff(
        self, config: RedisConfig, *, blocking: bool = False, shared: bool = False
    ) -> Connection:
        deadline = trio.current_time() + config.reconnect_timeout
        backoff = RECONNECT_BACKOFF.start()
        attempts = 0
        revived = False
        while True:
            if self._closed:
                raise ThoonkConnectionError(f"the client for {self.where} is closed")
            attempts += 1
            try:
                # Every use of the shared connection checks ``usable`` first,
                # as direct replies need (see Connection.open).
                conn = await Connection.open(
                    config,
                    self._nursery,
                    blocking=blocking,
                    direct_replies=shared and self._direct_replies,
                )
            except (ThoonkAuthenticationError, ThoonkTLSError):
                raise  # retrying cannot fix a password or a certificate
            except (ThoonkConnectionError, ThoonkTimeoutError, ThoonkLoadingError) as exc:
                dead = not isinstance(exc, ThoonkLoadingError)  # a loading server is alive
                if dead and config.revive is not None and not revived:
                    revived = True  # e.g. restart an embedded server that died
                    await config.revive()
                    continue
                delay = backoff.next_delay()
                if trio.current_time() + delay > deadline:
                    raise type(exc)(
                        f"{exc} (gave up after {attempts} attempt"
                        f"{'s' if attempts > 1 else ''} in {config.reconnect_timeout:g} s)"
                    ) from exc
                if shared:
                    self._link_failed(exc)  # shown at once, not after reconnect_timeout
                log.debug("connect to %s failed (%s); retrying in %.2fs", self.where, exc, delay)
            except redis.exceptions.ResponseError as exc:
                # e.g. SELECT of a database the server does not have
                raise ThoonkConnectionError(
                    f"Redis at {self.where} refused the connection setup: {exc}"
                ) from exc
            else:
                self.connects += 1
                return conn
            await trio.sleep(delay)

    async def connection(self) -> Connection:
        """The shared multiplexed connection, (re)connected when needed."""
        conn = self._shared
        if conn is not None and conn.usable:
            return conn
        async with self._connect_lock:
            conn = self._shared
            if conn is None or not conn.usable:
                if conn is not None:
                    log.warning("connection to %s lost; reconnecting", self.where)
                    self.link_state()  # marks it down (since now) if not yet
                try:
                    conn = await self._open_with_backoff(self.config, shared=True)
                except BaseException as exc:
                    if not isinstance(exc, trio.Cancelled):
                        self._link_failed(exc)
                    raise
                self._shared = conn
                self._acl_checked.clear()
                self._link = LinkState(connected=True)
            return conn

    # ------------------------------------------------------------------ calls

    async def execute(self, *args: Arg, idempotent: bool = False, shield: bool = False) -> Any:
        """One command on the shared connection; an error reply raises.

        ``idempotent``: running it twice does no more than once (a read), so
        it is sent again on a new connection if its connection broke in
        flight. ``shield``: once sent, its reply is awaited even if the caller
        is cancelled (a command that takes something, like a claim, must not
        lose its reply); connecting and retry pauses stay cancellable, so a
        cancelled caller never waits behind a reconnect loop.
        """
        conn = self._shared
        if conn is not None and conn.usable and not shield:
            try:
                return await conn.execute(*args)
            except RESENDABLE as exc:
                if not may_resend(exc, idempotent=idempotent):
                    raise
        return await resend_while_safe(
            partial(self._execute_once, args, shield),
            idempotent=idempotent,
            patience=self.config.reconnect_timeout,
            where=self.where,
            answered=self._connects,
        )

    async def _execute_once(self, args: tuple[Arg, ...], shield: bool) -> Any:
        conn = self._shared
        if conn is None or not conn.usable:
            conn = await self.connection()
        if not shield:
            return await conn.execute(*args)
        # Not sent yet: a caller cancelled by now is told so, and nothing runs.
        await trio.lowlevel.checkpoint_if_cancelled()
        with trio.CancelScope(shield=True):
            return await conn.execute(*args)

    async def pipeline(
        self, commands: Sequence[Command], *, raise_on_error: bool = True
    ) -> list[Any]:
        """Several commands in one write, their replies in order.

        With ``raise_on_error`` the first error reply is raised after all
        replies arrived; otherwise errors are returned in place. Commands the
        server answered with LOADING (they did not run) are sent again until
        it has loaded, for at most ``reconnect_timeout`` seconds. A pipeline
        is never re-sent after a broken connection.
        """
        replies = await self._pipeline_once(commands)
        pending = [i for i, r in enumerate(replies) if isinstance(r, ThoonkLoadingError)]
        if pending:
            deadline = trio.current_time() + self.config.reconnect_timeout
            backoff = RETRY_BACKOFF.start()
            delay = backoff.next_delay()
            while pending and trio.current_time() + delay <= deadline:
                await trio.sleep(delay)
                delay = backoff.next_delay()
                again = await self._pipeline_once([commands[i] for i in pending])
                for i, reply in zip(pending, again, strict=True):
                    replies[i] = reply
                pending = [i for i in pending if isinstance(replies[i], ThoonkLoadingError)]
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        return replies

    async def _pipeline_once(self, commands: Sequence[Command]) -> list[Any]:
        conn = self._shared
        if conn is None or not conn.usable:
            conn = await self.connection()
        return await conn.pipeline(commands)

    async def evalsha(
        self,
        script: ScriptLike,
        keys: Sequence[Arg] = (),
        args: Sequence[Arg] = (),
        *,
        idempotent: bool = False,
        shield: bool = False,
    ) -> Any:
        """Run a Lua script by its SHA1, loading it first if the server lost it.

        After ``SCRIPT FLUSH`` or a server restart the first call gets NOSCRIPT;
        the script is then loaded and run again (NOSCRIPT means it never ran).
        ``idempotent`` and ``shield`` as for :meth:`execute`.
        """
        run = self._script_to_run(script)
        command = ("EVALSHA", run.sha1, len(keys), *keys, *args)
        try:
            try:
                reply = await self.execute(*command, idempotent=idempotent, shield=shield)
            except redis.exceptions.NoScriptError:
                await self.execute("SCRIPT", "LOAD", run.source, idempotent=True)
                reply = await self.execute(*command, idempotent=idempotent, shield=shield)
        except redis.exceptions.NoPermissionError:
            self._acl_checked.clear()  # the ACL changed: check everything again
            raise
        if run is script:
            self._acl_checked.add(script.sha1)
        return reply

    def _script_to_run(self, script: ScriptLike) -> ScriptLike:
        """``script``, or its light form once its full ACL check passed on this connection.

        A contract script that writes starts with a check of every command it
        uses (contract/_acl.py); its ``light`` form checks only the channels.
        The commands a user may run rarely change, and checking them is most of
        the check's cost, so the full form runs once per script per connection,
        and again after any NOPERM (docs/security.md says what this leaves open).
        """
        light: ScriptLike | None = getattr(script, "light", None)
        if light is not None and script.sha1 in self._acl_checked:
            return light
        return script

    async def evalsha_many(
        self,
        calls: Sequence[tuple[ScriptLike, Sequence[Arg], Sequence[Arg]]],
        *,
        raise_on_error: bool = True,
    ) -> list[Any]:
        """Several script calls in one pipeline; NOSCRIPT ones are loaded and re-run."""
        runs = [self._script_to_run(s) for s, _, _ in calls]
        commands = [
            ("EVALSHA", r.sha1, len(k), *k, *a) for r, (_, k, a) in zip(runs, calls, strict=True)
        ]
        replies = await self.pipeline(commands, raise_on_error=False)
        missing = [
            i for i, r in enumerate(replies) if isinstance(r, redis.exceptions.NoScriptError)
        ]
        if missing:
            sources = {runs[i].sha1: runs[i].source for i in missing}
            await self.pipeline([("SCRIPT", "LOAD", src) for src in sources.values()])
            again = await self.pipeline([commands[i] for i in missing], raise_on_error=False)
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        self._note_acl_checks(runs, calls, replies)
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        return replies

    async def evalsha_durable(
        self,
        calls: Sequence[tuple[ScriptLike, Sequence[Arg], Sequence[Arg]]],
        *,
        replicas: int,
        timeout_ms: int,
    ) -> tuple[list[Any], int]:
        """Scripts then ``WAIT replicas timeout_ms``, in one pipeline on a dedicated connection.

        WAIT counts the replicas that acknowledged the writes of its own
        connection: on the shared one it would also block every other caller
        behind it, so the scripts and the WAIT go on a connection of their own.
        Returns (the scripts' replies, errors in place; the replicas that
        acknowledged). NOSCRIPT: the scripts are loaded and the whole pipeline
        sent again (NOSCRIPT means that script did not run). Never sent again
        after a broken connection (a script may have run).
        """
        runs = [self._script_to_run(s) for s, _, _ in calls]
        commands: list[Command] = [
            ("EVALSHA", r.sha1, len(k), *k, *a) for r, (_, k, a) in zip(runs, calls, strict=True)
        ]
        results, acked = await self._durable_once(commands, replicas, timeout_ms)
        missing = [
            i for i, r in enumerate(results) if isinstance(r, redis.exceptions.NoScriptError)
        ]
        if missing:
            sources = {runs[i].sha1: runs[i].source for i in missing}
            await self.pipeline([("SCRIPT", "LOAD", src) for src in sources.values()])
            again, acked_again = await self._durable_once(
                [commands[i] for i in missing], replicas, timeout_ms
            )
            for i, reply in zip(missing, again, strict=True):
                results[i] = reply
            acked = min(acked, acked_again)
        self._note_acl_checks(runs, calls, results)
        return results, acked

    def _note_acl_checks(
        self,
        runs: Sequence[ScriptLike],
        calls: Sequence[tuple[ScriptLike, Sequence[Arg], Sequence[Arg]]],
        replies: Sequence[Any],
    ) -> None:
        """After a batch: NOPERM forgets all checks; a passed full form allows its light form."""
        if any(isinstance(r, redis.exceptions.NoPermissionError) for r in replies):
            self._acl_checked.clear()
        else:
            self._acl_checked.update(
                s.sha1
                for r, (s, _, _), reply in zip(runs, calls, replies, strict=True)
                if r is s and not isinstance(reply, Exception)
            )

    async def _durable_once(
        self, commands: list[Command], replicas: int, timeout_ms: int
    ) -> tuple[list[Any], int]:
        limit = timeout_ms / 1000 + self.config.block_margin
        async with self.dedicated() as conn:
            with trio.move_on_after(limit):
                *results, acked = await conn.pipeline([*commands, ("WAIT", replicas, timeout_ms)])
                if isinstance(acked, Exception):
                    # No script ran (a replica answers MOVED, then refuses WAIT):
                    # the scripts' error says why (and a cluster follows it).
                    if results and all(isinstance(r, Exception) for r in results):
                        raise results[0]
                    raise acked
                return results, int(acked)
        # The abandoned call made dedicated() close the connection.
        raise ThoonkTimeoutError(
            f"Redis at {self.where} did not answer WAIT within {limit:g} s "
            "(the connection went silent); the connection was closed"
        )

    # -------------------------------------------------------- blocking calls

    @asynccontextmanager
    async def dedicated(self) -> AsyncIterator[Connection]:
        """A connection of your own, for blocking commands.

        It goes back to an idle pool when you are done, unless a call on it
        was cancelled in flight (then it is closed: its reply would come late).
        It has no reply watchdog (a blocking reply may take as long as the
        server holds it): bound each call yourself, as :meth:`execute_blocking` does.
        """
        conn: Connection | None = None
        while self._idle:
            candidate = self._idle.pop()
            if candidate.usable:
                conn = candidate
                break
        if conn is None:
            conn = await self._open_with_backoff(self.config, blocking=True)
        self._lent.add(conn)
        try:
            yield conn
        finally:
            self._lent.discard(conn)
            if (
                not self._closed
                and conn.usable
                and conn.in_flight == 0
                and len(self._idle) < self._max_idle
            ):
                self._idle.append(conn)
            else:
                # Shielded: a caller holding replies it must not lose (a cut
                # evalsha_behind_block) may be cancelled by now.
                with trio.CancelScope(shield=True):
                    await conn.aclose()

    async def execute_blocking(
        self, *args: Arg, block_s: float | None = None, idempotent: bool = False
    ) -> Any:
        """One blocking command (BLMOVE, BRPOP, ...) on a dedicated connection.

        ``block_s`` is the server-side timeout the command carries (0: for
        ever). When given, the reply must come within ``block_s`` plus the
        config's ``block_margin``, or the connection is declared dead
        (:class:`ThoonkTimeoutError`); keep ``block_s`` at most
        :attr:`max_block` so a dead connection is noticed within
        ``health_timeout``. ``idempotent``: sent again on a new connection
        after a broken or silent one. Cancel it like any trio call; the
        connection it used is then closed.
        """
        return await resend_while_safe(
            partial(self._blocking_once, args, block_s),
            idempotent=idempotent,
            patience=self.config.reconnect_timeout,
            where=self.where,
            answered=self._connects,
        )

    async def _blocking_once(self, args: tuple[Arg, ...], block_s: float | None) -> Any:
        async with self.dedicated() as conn:
            if block_s is None or block_s <= 0 or self.config.health_timeout is None:
                return await conn.execute(*args)
            limit = block_s + self.config.block_margin
            with trio.move_on_after(limit):
                return await conn.execute(*args)
            # The abandoned call makes dedicated() close this connection.
            raise ThoonkTimeoutError(
                f"Redis at {self.where} did not answer a blocking {args[0]!s} within "
                f"{limit:g} s (the connection went silent); the connection was closed"
            )

    async def evalsha_behind_block(
        self,
        blocking: Sequence[Arg],
        script: ScriptLike,
        keys: Sequence[Arg] = (),
        args: Sequence[Arg] = (),
        *,
        block_s: float | None = None,
    ) -> tuple[Any, Any]:
        """A blocking command and a script sent right behind it, in one write; both replies.

        Synopsis::

            moved, claimed = await redis.evalsha_behind_block(
                ("BLMOVE", "a", "a", "RIGHT", "RIGHT", 5), script, keys, args, block_s=5)

        On a dedicated connection, as :meth:`execute_blocking`. The server
        runs the script as soon as the blocking command returns (served, or
        its timeout passed), so waiting and acting cost one round trip. The
        script always runs after the block and its reply is always read:

        - a **cancel** once sent does not drop it: the block is ended early
          (``CLIENT UNBLOCK`` of that connection, sent on the shared one: the
          blocking command returns as if its timeout passed), the script runs,
          and both replies are returned; the caller sees the cancel at its
          next checkpoint. (Before anything is sent a cancel raises as usual.)
        - ``NOSCRIPT`` (or LOADING): the script did not run; it is run with
          :meth:`evalsha` (loaded first) and that reply is returned, unless
          the caller was cancelled meanwhile: then nothing ran, and the
          cancel is raised.
        - the script's error reply is raised; the blocking command's error
          reply is returned in place.

        Never sent again: if the connection breaks (or goes silent past
        ``block_s`` + ``block_margin``), or a cancelled block cannot be ended
        within :attr:`cut_patience` seconds (``CLIENT UNBLOCK`` refused by the
        server's ACL, a silent server), the connection is closed and
        :class:`ThoonkConnectionError` / :class:`ThoonkTimeoutError` raised:
        the script may or may not have run, only the caller knows what that
        means.
        """
        run = self._script_to_run(script)
        evalsha = ("EVALSHA", run.sha1, len(keys), *keys, *args)
        await trio.lowlevel.checkpoint_if_cancelled()
        async with self.dedicated() as conn:
            block_reply, reply = await self._behind_block(conn, tuple(blocking), evalsha, block_s)
        if isinstance(reply, redis.exceptions.NoScriptError | ThoonkLoadingError):
            # It did not run: run it as a plain script call (shielded once sent,
            # as it may take something; a caller cancelled by now is told so).
            return block_reply, await self.evalsha(script, keys, args, shield=True)
        if isinstance(reply, redis.exceptions.NoPermissionError):
            self._acl_checked.clear()  # the ACL changed: check everything again
        elif run is script and not isinstance(reply, Exception):
            self._acl_checked.add(script.sha1)
        if isinstance(reply, Exception):
            raise reply
        return block_reply, reply

    #: How long a cancelled :meth:`evalsha_behind_block` may take to end its block
    #: (``CLIENT UNBLOCK``, then the replies) before its connection is closed.
    cut_patience: float = 5.0

    async def _behind_block(
        self, conn: Connection, blocking: Command, evalsha: Command, block_s: float | None
    ) -> tuple[Any, Any]:
        if conn.client_id is None:
            # What CLIENT UNBLOCK needs; asked once per connection, before the
            # block (the replies of one pipeline come together, after the block).
            limit = self.config.reply_timeout
            try:
                with trio.fail_after(math.inf if limit is None else limit):
                    conn.client_id = int(await conn.execute("CLIENT", "ID"))
            except trio.TooSlowError:
                raise ThoonkTimeoutError(
                    f"Redis at {self.where} did not answer CLIENT ID within {limit:g} s"
                ) from None
            except redis.exceptions.ResponseError as exc:  # e.g. NOPERM
                conn.client_id = 0
                if not self._warned_unblock:
                    self._warned_unblock = True
                    log.warning(
                        "Redis at %s refused CLIENT ID (%s): a blocking call that is cut will "
                        "close its connection instead of ending its block; grant the user "
                        "+client|id +client|unblock (docs/security.md)",
                        self.where, exc,
                    )  # fmt: skip
        commands: list[Command] = [blocking, evalsha]
        silent_at = math.inf
        if block_s is not None and block_s > 0 and self.config.health_timeout is not None:
            silent_at = trio.current_time() + block_s + self.config.block_margin
        answered = trio.Event()
        ended: list[trio.Event] = []

        def on_cancel() -> None:
            ended.append(trio.Event())
            self._nursery.start_soon(self._end_block, conn, answered, ended[0], silent_at)

        try:
            # Its deadline is a cancel like any other: on_cancel tells them apart.
            with trio.move_on_at(silent_at) as silent:
                replies = await conn.pipeline(commands, on_cancel=on_cancel)
        finally:
            answered.set()
            if ended:
                # A CLIENT UNBLOCK still on its way could end the next block sent
                # on this connection: the connection is reused only after its reply.
                with trio.CancelScope(shield=True) as scope:
                    scope.deadline = trio.current_time() + self.cut_patience
                    await ended[0].wait()
                if not ended[0].is_set():
                    conn.fail(ThoonkConnectionError("CLIENT UNBLOCK did not come back"))
        if silent.cancelled_caught:  # (only if the call never started waiting)
            raise ThoonkTimeoutError(f"Redis at {self.where} did not answer a blocking call")
        return replies[0], replies[1]

    async def _end_block(
        self, conn: Connection, answered: trio.Event, ended: trio.Event, silent_at: float
    ) -> None:
        """Make a cancelled blocking call's replies come now, or close its connection."""
        try:
            await self._end_block_now(conn, answered, silent_at)
        finally:
            ended.set()

    async def _end_block_now(
        self, conn: Connection, answered: trio.Event, silent_at: float
    ) -> None:
        if trio.current_time() >= silent_at:
            conn.fail(
                ThoonkTimeoutError(
                    f"Redis at {self.where} did not answer a blocking call within its "
                    f"timeout + {self.config.block_margin:g} s (the connection went silent); "
                    "the connection was closed (the commands behind it may or may not have run)"
                )
            )
            return
        client_id = conn.client_id
        why = "the server refused to tell the connection's id (CLIENT ID)"
        if client_id:
            why = f"nothing came back within {self.cut_patience:g} s"
            with trio.move_on_after(self.cut_patience):
                try:
                    pause = 0.001
                    while not answered.is_set():
                        # 0: not blocked (yet: the command may still be on its way;
                        # or served already, its replies coming): look again shortly.
                        if await self.execute("CLIENT", "UNBLOCK", client_id):
                            pause = math.inf  # ended: the replies come (cut_patience bounds it)
                        with trio.move_on_after(pause):
                            await answered.wait()
                        pause = min(pause * 2, 0.1)
                except Exception as exc:  # whatever it was, the cut falls back to closing
                    why = f"CLIENT UNBLOCK failed: {exc}"
        if not answered.is_set():
            conn.fail(
                ThoonkConnectionError(
                    f"a blocking call to Redis at {self.where} was cut and its block could not "
                    f"be ended ({why}); the connection was closed (the commands behind it may "
                    "or may not have run)"
                )
            )

    # --------------------------------------------------------------- closing

    async def aclose(self) -> None:
        """Close every connection; calls still waiting fail."""
        self._closed = True
        conns = [*self._idle, *self._lent]
        self._idle.clear()
        if self._shared is not None:
            conns.append(self._shared)
            self._shared = None
        for conn in conns:
            await conn.aclose()


@asynccontextmanager
async def open_redis(
    url: str | RedisConfig, **options: Unpack[RedisOptions]
) -> AsyncIterator[RedisClient]:
    """A :class:`RedisClient` for ``url`` that lives as long as the block.

    Keyword options (:class:`RedisOptions`: ``connect_timeout``,
    ``response_timeout``, ``reconnect_timeout``, ``client_name``, ...) override
    the URL's, or the config's fields. The first connection is made here, so a
    wrong address or password fails at once with a clear error.

    Raises:
        UsageError: a malformed URL, or an unknown or invalid option.
        ThoonkConnectionError: the server cannot be reached.
    """
    config = (
        url.replace(**options)
        if isinstance(url, RedisConfig)
        else RedisConfig.from_url(url, **options)
    )
    async with open_service_nursery() as nursery:
        client = RedisClient(config, nursery)
        try:
            await client.connection()
            yield client
        finally:
            await client.aclose()
            nursery.cancel_scope.cancel()
