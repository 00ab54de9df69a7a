"""The exporter of ``thoonk worker --metrics-port``: one per worker process, as a worker setup.

Synopsis::

    from thoonk_actors.metrics import worker_exporter
    from thoonk_actors.runtime import run_workers

    run_workers("myapp:app", 4, worker_setup=worker_exporter(9100))   # 9100 to 9103

The runtime does not import this package (it sits above the runtime): it runs
the :class:`~thoonk_actors.runtime.WorkerSetup` this module builds, which
names :func:`open_worker_exporter`. In each worker process that opens an
exporter on the app's client for the app's job queues, on ``port + slot``
(worker ``i`` of the supervisor, kept by its restarts), bound before the app
claims anything; once the app runs, the exporter also shows its handler
figures.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from .._errors import UsageError
from .._nursery import open_service_nursery
from ._exporter import (
    DEFAULT_HOST,
    MetricsExporter,
    check_port,
    open_metrics_exporter,
    require_prometheus_client,
)

if TYPE_CHECKING:
    # Not imported at run time: ``thoonk metrics`` needs no runtime.
    from ..runtime import WorkerContext, WorkerSetup

log = logging.getLogger(__name__)


def worker_exporter(port: int, host: str = DEFAULT_HOST) -> WorkerSetup:
    """``run_workers(..., worker_setup=worker_exporter(9100))``: worker ``i`` on ``9100 + i``.

    Args:
        port: the first worker's port (1 to 65535).
        host: the interface (default: this machine only; ``"0.0.0.0"``: every one).

    Raises:
        UsageError: ``prometheus-client`` is not installed, or a bad port or host.
    """
    from ..runtime import WorkerSetup

    require_prometheus_client()
    check_port(port, allow_zero=False)  # 0 would give worker i port i
    if not isinstance(host, str):
        raise UsageError(f"the metrics host must be a str, not {host!r}")
    return WorkerSetup("thoonk_actors.metrics:open_worker_exporter", {"port": port, "host": host})


@asynccontextmanager
async def open_worker_exporter(
    worker: WorkerContext, *, port: int, host: str = DEFAULT_HOST
) -> AsyncIterator[MetricsExporter]:
    """The worker setup :func:`worker_exporter` names: serve on ``port + worker.slot``.

    Raises:
        UsageError: the port cannot be bound (the worker exits with code 2).
    """
    async with (
        open_metrics_exporter(
            worker.thoonk, port=port + worker.slot, host=host, queues=sorted(worker.app.jobs)
        ) as exporter,
        open_service_nursery() as nursery,
    ):
        nursery.start_soon(_follow, worker, exporter)
        yield exporter
        nursery.cancel_scope.cancel()


async def _follow(worker: WorkerContext, exporter: MetricsExporter) -> None:
    """Once the app runs, its handler figures are exported too."""
    running = await worker.wait_running()
    exporter.running = running
    log.info("worker %s: metrics on %s", running.worker_id, exporter.url)
