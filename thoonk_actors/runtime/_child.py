"""One worker process of :func:`run_workers` (its own trio loop).

Synopsis::

    python -m thoonk_actors.runtime._child examples.worker_app:app [--grace 10] [--burst]
        [--parent PID]

Runs the app with SIGINT/SIGTERM handling (first signal: graceful stop,
second: stop now). With ``--parent`` it also stops gracefully when that
process is gone (the supervisor was killed), so no worker is left orphaned.
Exit codes: 0 stopped cleanly, 1 crashed, 2 the target is wrong.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Sequence

import trio

from .._errors import UsageError
from .._nursery import open_service_nursery
from ._app import App
from ._logging import configure_logging
from ._running import RunningApp
from ._target import load_app

# Not __name__: run with -m, that would be "__main__".
log = logging.getLogger("thoonk_actors.runtime._child")

PARENT_POLL = 0.5


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the app until stopped; the exit code."""
    parser = argparse.ArgumentParser(prog="python -m thoonk_actors.runtime._child")
    parser.add_argument("target", help="module:app")
    parser.add_argument("--grace", type=float, default=None)
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--parent", type=int, default=None)
    args = parser.parse_args(argv)
    configure_logging()
    try:
        try:
            app = load_app(args.target)
        except UsageError as exc:
            log.error("%s", exc)
            return 2
        trio.run(_serve, app, args.grace, args.burst, args.parent)
    except KeyboardInterrupt:
        # Ctrl-C before the app installed its own handlers (while importing the
        # target or starting trio): nothing was claimed yet, so this is a clean stop.
        log.info("worker %d interrupted before it started", os.getpid())
        return 0
    except Exception:
        log.exception("worker %d crashed", os.getpid())
        return 1
    return 0


async def _serve(app: App, grace: float | None, burst: bool, parent: int | None) -> None:
    async with open_service_nursery() as nursery:
        run = functools.partial(app.run, handle_signals=True, grace=grace, burst=burst)
        running: RunningApp = await nursery.start(run)
        log.info("worker %s running %r", running.worker_id, app)
        if parent is not None:
            nursery.start_soon(_stop_when_orphaned, parent, running, grace)
        await running.wait_stopped()
        nursery.cancel_scope.cancel()


async def _stop_when_orphaned(parent: int, running: RunningApp, grace: float | None) -> None:
    # No event tells a child that its parent died (short of prctl): poll.
    while os.getppid() == parent:  # noqa: ASYNC110
        await trio.sleep(PARENT_POLL)
    log.warning("the supervisor (pid %d) is gone; stopping", parent)
    running.stop_nowait(grace)


if __name__ == "__main__":
    sys.exit(main())
