"""``thoonk worker MODULE:APP``: run an app's handlers in N supervised worker processes.

Synopsis::

    thoonk worker examples.worker_app:app --processes 2     # until Ctrl-C or SIGTERM
    thoonk worker myapp:app --burst                         # until every queue is drained
    thoonk worker myapp:app --metrics-port 9100             # Prometheus metrics on :9100

Mistakes are found before any process starts, each reported in one line: the
target must be an importable :class:`~thoonk_actors.runtime.App` (exit 2) and
Redis must answer (exit 3). Then :func:`~thoonk_actors.runtime.run_workers`
runs the processes, and what it returns is the exit code (0: every worker
stopped cleanly, 1: one had to be killed or failed while stopping).

A stop (SIGINT/SIGTERM) is honoured at any moment: held since the program's
first instruction (``thoonk_actors.cli.main``), taken over by a
:class:`~thoonk_actors.runtime.SignalLatch` here; one that arrives
before any worker started ends the command with exit 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from typing import TYPE_CHECKING

from .._errors import UsageError
from ._common import Subparsers, add_command, add_redis_options, number, seconds
from ._metrics import DEFAULT_HOST, tcp_port
from ._run import check_redis

if TYPE_CHECKING:
    from ..runtime import App, WorkerSetup

log = logging.getLogger(__name__)


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    worker = add_command(
        commands,
        "worker",
        common,
        help="run an app's job handlers and feed actors in worker processes",
        description=(
            "Run the handlers of the App at MODULE:APP in N worker processes (each its own "
            "trio loop) under a supervisor that restarts a worker that crashes. The module is "
            "imported from the current directory. Without --url every worker uses the same "
            "Redis: $THOONK_REDIS_URL, else the embedded server (started if needed). Ctrl-C or "
            "SIGTERM stops them gracefully: no new claims, running handlers get --grace "
            "seconds, then unfinished jobs go back to their queue; a second signal stops them "
            "at once. Logs go to stderr at $THOONK_LOG_LEVEL (default INFO). Exit codes: 0 "
            "every worker stopped cleanly, 1 one had to be killed or failed while stopping, 2 "
            "the target is not an importable App, 3 Redis cannot be reached."
        ),
        examples="""\
  thoonk worker examples.worker_app:app --processes 2
  thoonk worker myapp:app --url redis://localhost:6379/0 --grace 30
  thoonk worker myapp:app --burst       # stop once every queue is drained
  thoonk worker myapp:app --processes 2 --metrics-port 9100   # metrics on 9100 and 9101
""",
    )
    worker.add_argument(
        "target", metavar="MODULE:APP", help="where the App is, e.g. examples.worker_app:app"
    )
    worker.add_argument(
        "--processes",
        metavar="N",
        type=number("processes"),
        default=1,
        help="worker processes, each running every handler of the app (default: 1)",
    )
    add_redis_options(worker)
    worker.add_argument(
        "--grace",
        metavar="SECONDS",
        type=seconds(),
        default=None,
        help="on a stop, how long running handlers may finish (default: the app's grace)",
    )
    worker.add_argument(
        "--burst",
        action="store_true",
        help="stop once every job queue of the app is drained (batch runs, tests)",
    )
    worker.add_argument(
        "--metrics-port",
        metavar="N",
        type=tcp_port(allow_zero=False),
        default=None,
        help="serve Prometheus metrics (the app's job queues and each worker's handler "
        "figures; needs thoonk-actors[metrics]): worker process i listens on N+i",
    )
    worker.add_argument(
        "--metrics-host",
        metavar="HOST",
        default=DEFAULT_HOST,
        help=f"the interface the metrics listen on (default: {DEFAULT_HOST}; 0.0.0.0 for all)",
    )
    # SIGINT/SIGTERM stay held after parsing: _worker takes them over (a stop at any moment).
    worker.set_defaults(handler=_worker, holds_stop_signals=True)


def _worker(args: argparse.Namespace) -> int:
    # Held since the program's first instruction (cli.main); from here on a stop
    # is recorded by the latch, and honoured as soon as it can be (exit 0). The
    # runtime is imported here, not above: the parser stays light for the other commands.
    from ..runtime import SignalLatch, StopRequested, installed_latch, load_app, run_workers

    latch = installed_latch() or SignalLatch().install()
    try:
        with latch.interrupting():
            app = load_app(args.target)  # UsageError (exit 2) before anything touches Redis
    except StopRequested as stop:
        return _stopped_early(stop.signum, debug=getattr(args, "debug", False))
    except UsageError:
        raise
    except Exception as exc:  # the module itself failed: still the target's fault
        raise UsageError(f"importing {args.target!r} failed: {type(exc).__name__}: {exc}") from exc
    if not app.jobs and not app.feeds:
        raise UsageError(
            f"the App at {args.target!r} has no handlers; register some with @app.job / @app.feed"
        )
    setup = _metrics_setup(args)  # UsageError (exit 2) before anything starts
    url, where = check_redis(argparse.Namespace(**{**vars(args), "url": args.url or app.url}))
    if latch.received:  # a stop while Redis was asked: no worker was started
        return _stopped_early(latch.received[0], debug=getattr(args, "debug", False))
    _log_to_stderr(debug=getattr(args, "debug", False))
    log.info(
        "running %d worker process%s of %s (%s) on %s; Ctrl-C or SIGTERM stops %s gracefully",
        args.processes, "" if args.processes == 1 else "es", args.target, _handlers(app), where,
        "it" if args.processes == 1 else "them",
    )  # fmt: skip
    code = run_workers(
        args.target,
        args.processes,
        url=url,
        grace=args.grace,
        burst=args.burst,
        worker_setup=setup,
    )
    log.info("every worker stopped" if code == 0 else "workers stopped, not all cleanly")
    return code


def _metrics_setup(args: argparse.Namespace) -> WorkerSetup | None:
    """Each worker's exporter, once the library is there and every worker's port is free."""
    first: int | None = args.metrics_port
    if first is None:
        return None
    from ..metrics import check_port_free, require_prometheus_client, worker_exporter

    require_prometheus_client()
    last = first + args.processes - 1
    if last > 65535:
        raise UsageError(
            f"--metrics-port {first} with {args.processes} processes needs ports up to {last}, "
            "past 65535; choose a lower port"
        )
    for port in range(first, last + 1):
        check_port_free(args.metrics_host, port)
    return worker_exporter(first, args.metrics_host)


def _stopped_early(signum: int, *, debug: bool) -> int:
    _log_to_stderr(debug=debug)
    log.info("%s: stopped before any worker started", signal.Signals(signum).name)
    return 0


def _handlers(app: App) -> str:
    parts = []
    if app.jobs:
        parts.append("job queues " + ", ".join(sorted(app.jobs)))
    if app.feeds:
        parts.append("feeds " + ", ".join(sorted(name for _, name in app.feeds)))
    return "; ".join(parts) or "no handlers"


def _log_to_stderr(*, debug: bool) -> None:
    """Log like the worker processes do: a timestamp and the pid on every line."""
    from ..runtime import LOG_FORMAT, LOG_LEVEL_ENV

    if debug:
        os.environ[LOG_LEVEL_ENV] = "DEBUG"  # the worker processes inherit it
    level = os.environ.get(LOG_LEVEL_ENV, "INFO").upper()
    logging.basicConfig(
        force=True,  # replaces the command line's terse "thoonk: ..." handler
        level=logging.DEBUG if debug else logging.getLevelNamesMapping().get(level, logging.INFO),
        format=LOG_FORMAT,
    )
