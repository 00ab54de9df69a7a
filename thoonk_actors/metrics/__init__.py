"""Prometheus metrics: ``open_metrics_exporter`` (needs ``thoonk-actors[metrics]``).

Synopsis::

    from thoonk_actors.metrics import open_metrics_exporter

    async with open_metrics_exporter(thoonk, port=9100) as exporter:
        ...                                   # Prometheus scrapes exporter.url

``thoonk metrics --port 9100`` and ``thoonk worker myapp:app --metrics-port
9100`` run one; ``run_workers("myapp:app", 4,
worker_setup=worker_exporter(9100))`` runs one in each worker process (9100
to 9103). The metric names, types and labels are in docs/operations.md
("Metrics"). Importing this package does not import ``prometheus_client``;
opening an exporter without it raises :class:`~thoonk_actors.UsageError` with
the install command.
"""

from __future__ import annotations

from ._exporter import INSTALL_HINT as INSTALL_HINT
from ._exporter import SCRAPE_TIMEOUT as SCRAPE_TIMEOUT
from ._exporter import MetricsExporter as MetricsExporter
from ._exporter import check_port as check_port
from ._exporter import check_port_free as check_port_free
from ._exporter import open_metrics_exporter as open_metrics_exporter
from ._exporter import require_prometheus_client as require_prometheus_client
from ._worker import open_worker_exporter as open_worker_exporter
from ._worker import worker_exporter as worker_exporter

__all__ = [
    "INSTALL_HINT",
    "SCRAPE_TIMEOUT",
    "MetricsExporter",
    "check_port",
    "check_port_free",
    "open_metrics_exporter",
    "open_worker_exporter",
    "require_prometheus_client",
    "worker_exporter",
]
