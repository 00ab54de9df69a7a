"""A Prometheus exporter: job queue figures read at scrape time, and a worker's own.

Synopsis::

    async with open_metrics_exporter(thoonk, port=9100) as exporter:   # every job queue
        print(exporter.url)                  # http://127.0.0.1:9100/metrics
        await trio.sleep_forever()

    async with app.open() as running, open_metrics_exporter(
        thoonk, port=9100, queues=sorted(app.jobs), running=running
    ):                                       # + this process's handler figures
        ...

Needs the optional ``prometheus-client`` library
(``pip install 'thoonk-actors[metrics]'``); without it opening an exporter
raises :class:`~thoonk_actors.UsageError` saying so (importing this module
does not need it).

How the HTTP thread gets figures from trio: ``prometheus_client`` serves
HTTP from a daemon thread of its own (``start_http_server``), so trio is
never blocked by a slow scraper, and every scrape runs the collector in that
thread. The collector asks the trio loop for the figures at that moment
(scrape time, no polling loop between scrapes): it queues a callback with
``TrioToken.run_sync_soon`` (which never blocks and never waits for the
loop), the callback starts a task in the exporter's nursery, and the task
reads the job queues under ``trio.move_on_after(scrape_timeout)`` and hands the
result back through a ``concurrent.futures.Future``. The thread waits for it
at most ``scrape_timeout`` + :data:`THREAD_MARGIN` seconds. So a scrape always
answers: when Redis is unreachable or slower than the timeout, with
``thoonk_up 0`` (and ``thoonk_scrape_errors_total`` grows), the worker's own
figures still shown; when the trio loop itself does not answer (ended, or
blocked by a handler that never checkpoints), with ``thoonk_up 0`` alone.
``trio.from_thread.run`` was not used: it has no timeout, so a stuck loop
would hang every scrape. A snapshot refreshed by a trio task was not used
either: it would read Redis on a timer whether anyone scrapes or not, and
show figures as old as its period.

Which queues: ``queues`` names them; None means every job queue, as
``thoonk stats`` finds them: the ``jobs`` registry at every scrape, plus a
SCAN for unregistered ones (an original JavaScript client's), bounded by
``scan_budget`` and repeated at most every :data:`RESCAN_S` seconds (SCAN is
O(keyspace)).
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import socket
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import trio

from .. import contract
from .._errors import InvalidNameError, UsageError, WrongTypeError
from .._nursery import open_service_nursery
from ..objects import DISCOVERY_BUDGET_S, Discovery, Thoonk

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from ..runtime import RunningApp
    from ._collector import QueueFigures, Scrape

log = logging.getLogger(__name__)

#: What to install when ``prometheus-client`` is missing.
INSTALL_HINT = "pip install 'thoonk-actors[metrics]'"
#: Default seconds a scrape may spend reading Redis (Prometheus's default
#: scrape_timeout is 10 s: answer well within it).
SCRAPE_TIMEOUT = 5.0
#: Seconds the HTTP thread waits for the trio loop beyond the scrape timeout.
THREAD_MARGIN = 1.0
#: Seconds between two SCANs for unregistered job queues.
RESCAN_S = 30.0
#: The default interface: this machine only (queue names are not for everyone);
#: ``host="0.0.0.0"`` lets another machine's Prometheus scrape.
DEFAULT_HOST = "127.0.0.1"


def require_prometheus_client() -> None:
    """Raise :class:`UsageError` with the install hint unless ``prometheus_client`` imports."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            f"metrics need the prometheus-client library, which is not installed: {INSTALL_HINT}"
        ) from exc


def check_port(port: object, *, allow_zero: bool = True) -> int:
    """``port`` if it is a TCP port (0: any free one, with ``allow_zero``), else UsageError."""
    low = 0 if allow_zero else 1
    if isinstance(port, bool) or not isinstance(port, int) or not low <= port <= 65535:
        raise UsageError(
            f"the metrics port must be a whole number from {low} to 65535, not {port!r}"
        )
    return port


def check_port_free(host: str, port: int) -> None:
    """Bind ``host:port`` and let it go: UsageError now rather than in a worker process later."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server does
            probe.bind(address)
    except OSError as exc:
        raise _bind_error(host, port, exc) from exc


def _bind_error(host: str, port: int, exc: OSError) -> UsageError:
    return UsageError(
        f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; choose another port "
        "(or stop what listens there)"
    )


class MetricsExporter:
    """A running exporter (get one from :func:`open_metrics_exporter`).

    Attributes:
        host: the interface it listens on.
        port: the port it listens on (the one picked, when opened with port 0).
        url: where Prometheus scrapes: ``http://HOST:PORT/metrics``.
        running: the running app whose own figures are exported, or None;
            may be set after opening (a worker binds its port before it
            starts claiming).
        timeout: seconds a scrape may spend reading Redis.
    """

    def __init__(
        self,
        thoonk: Thoonk,
        *,
        queues: Iterable[str] | None,
        running: RunningApp | None,
        timeout: float,
        scan: bool,
        scan_budget: float,
    ) -> None:
        self.thoonk = thoonk
        self.running = running
        self.timeout = timeout
        self.host = DEFAULT_HOST
        self.port = 0
        self._queues = None if queues is None else tuple(queues)
        self._scan = scan
        self._scan_budget = scan_budget
        self._scanned: Discovery | None = None
        self._scanned_at = -math.inf
        self._errors = 0
        self._errors_lock = threading.Lock()
        self._was_up = True
        self._token = trio.lowlevel.current_trio_token()
        self._nursery: trio.Nursery | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    # ---------------------------------------------------- the HTTP thread side

    def scrape(self) -> Scrape:
        """The figures now (called in the HTTP thread; bounded, never raises)."""
        from ._collector import Scrape

        done: concurrent.futures.Future[Scrape] = concurrent.futures.Future()
        try:
            self._token.run_sync_soon(self._spawn, done)
            scrape = done.result(timeout=self.timeout + THREAD_MARGIN)
        except trio.RunFinishedError:
            scrape = Scrape(up=False, seconds=0.0)
        except concurrent.futures.TimeoutError:
            log.warning(
                "metrics: the trio loop did not answer a scrape within %g s",
                self.timeout + THREAD_MARGIN,
            )
            scrape = Scrape(up=False, seconds=self.timeout + THREAD_MARGIN)
        with self._errors_lock:
            if not scrape.up:
                self._errors += 1
            errors = self._errors
        return Scrape(scrape.up, scrape.seconds, scrape.queues, scrape.runtime, errors)

    # ----------------------------------------------------------- the trio side

    def _spawn(self, done: concurrent.futures.Future[Scrape]) -> None:
        # Runs on the trio thread; must not raise (run_sync_soon would crash the loop).
        nursery = self._nursery
        try:
            if nursery is None:
                raise RuntimeError("not serving")
            nursery.start_soon(self._gather, done)
        except RuntimeError:  # the exporter is closing
            from ._collector import Scrape

            done.set_result(Scrape(up=False, seconds=0.0))

    async def _gather(self, done: concurrent.futures.Future[Scrape]) -> None:
        from ._collector import Scrape

        started = trio.current_time()
        running = self.running
        runtime = None if running is None else running.statistics()
        queues: tuple[QueueFigures, ...] = ()
        up = False
        why = f"no answer within {self.timeout:g} s"
        try:
            with trio.move_on_after(self.timeout):
                try:
                    queues = await self._read_queues()
                    up = True
                except Exception as exc:  # unreachable, refused...: the scrape still answers
                    why = f"{type(exc).__name__}: {exc}"
            if not up:
                self._log_down(why)
            elif not self._was_up:
                log.warning("metrics: Redis answers again")
                self._was_up = True
        finally:
            if not done.done():  # only this task sets it; also when cancelled (closing)
                done.set_result(Scrape(up, trio.current_time() - started, queues, runtime))

    def _log_down(self, why: str) -> None:
        if self._was_up:  # once per outage, not once per scrape
            log.warning("metrics: could not read the job queues (%s); thoonk_up is 0", why)
        self._was_up = False

    async def _read_queues(self) -> tuple[QueueFigures, ...]:
        from ._collector import QueueFigures

        thoonk = self.thoonk
        registered = set(await thoonk.names("job"))
        if self._queues is not None:
            names = [(name, name in registered) for name in self._queues]
        else:
            names = [(name, name in registered) for name in await self._find(registered)]
        figures = []
        for name, is_registered in names:
            try:
                stats = await thoonk.job(name).statistics()
            except (InvalidNameError, WrongTypeError) as exc:  # another program's keys
                log.debug("metrics: skipped job queue %r: %s", name, exc)
                continue
            figures.append(QueueFigures(name, is_registered, stats))
        return tuple(figures)

    async def _find(self, registered: set[str]) -> list[str]:
        if self._scan and trio.current_time() - self._scanned_at >= RESCAN_S:
            self._scanned = await self.thoonk.discover(["job"], budget_s=self._scan_budget)
            self._scanned_at = trio.current_time()
        found = set(registered)
        if self._scanned is not None:
            found.update(o.name for o in self._scanned.unregistered)
        return sorted(found)


@asynccontextmanager
async def open_metrics_exporter(
    thoonk: Thoonk,
    *,
    port: int,
    host: str = DEFAULT_HOST,
    queues: Iterable[str] | None = None,
    running: RunningApp | None = None,
    scrape_timeout: float = SCRAPE_TIMEOUT,
    scan: bool = True,
    scan_budget: float = DISCOVERY_BUDGET_S,
) -> AsyncIterator[MetricsExporter]:
    """Serve ``/metrics`` on ``host:port`` while the block runs (see the module doc).

    Args:
        thoonk: the client the job queues are read with.
        port: the TCP port; 0 picks a free one (``exporter.port`` says which).
        host: the interface (default: this machine only; ``"0.0.0.0"``: every one).
        queues: the job queues to export; None: every one found (registry + SCAN).
        running: a running app whose own figures (``thoonk_worker_*``, the
            handler duration histogram) are exported too.
        scrape_timeout: seconds a scrape may spend reading Redis.
        scan: look for unregistered job queues by their keys (with ``queues=None``).
        scan_budget: seconds one such SCAN may take.

    Raises:
        UsageError: ``prometheus-client`` is not installed, a bad port or
            timeout, or the port cannot be bound (in use, not allowed).
        InvalidNameError: a name in ``queues`` breaks the naming rule.
    """
    require_prometheus_client()
    check_port(port)
    if queues is not None:
        queues = tuple(queues)
        for name in queues:
            contract.validate_name(name)  # InvalidNameError, before anything is served
    timeout = scrape_timeout
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout < math.inf
    ):
        raise UsageError(f"the scrape timeout must be seconds > 0, not {timeout!r}")
    from prometheus_client import CollectorRegistry, start_http_server

    from ._collector import ThoonkCollector

    exporter = MetricsExporter(
        thoonk,
        queues=queues,
        running=running,
        timeout=float(timeout),
        scan=scan,
        scan_budget=scan_budget,
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ThoonkCollector(exporter.scrape))
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise _bind_error(host, port, exc) from exc
    exporter.host, exporter.port = host, server.server_port
    try:
        async with open_service_nursery() as nursery:
            exporter._nursery = nursery
            yield exporter
            exporter._nursery = None
            nursery.cancel_scope.cancel()
    finally:
        exporter._nursery = None
        await _shut_down(server)


async def _shut_down(server: WSGIServer) -> None:
    """Stop the HTTP thread (``shutdown`` waits up to its 0.5 s poll) and close the socket."""
    with trio.CancelScope(shield=True):
        await trio.to_thread.run_sync(server.shutdown)
    server.server_close()
