"""What one scrape shows, as Prometheus metric families (needs ``prometheus-client``).

Synopsis::

    registry.register(ThoonkCollector(exporter.scrape))   # scrape() -> Scrape, never raises

Every name follows the Prometheus conventions: a ``thoonk_`` prefix, base
units (seconds), ``_total`` on counters, no type in the name. The queue-level
figures are the job queue's own ``statistics()`` (what ``thoonk stats`` and
``thoonk top`` show), shared by every process; the ``thoonk_worker_*`` ones and
the handler duration histogram are this process's (``RunningApp.statistics()``),
present only in a worker's exporter. :data:`METRICS` lists them all (the docs
and the tests read it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..contract import JobStats
from ..runtime import HANDLER_OUTCOMES, QueueStatistics, RuntimeStatistics


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """One job queue as read at scrape time."""

    name: str
    registered: bool
    stats: JobStats


@dataclass(frozen=True, slots=True)
class Scrape:
    """What one scrape read.

    Attributes:
        up: every job queue was read from Redis within the scrape timeout.
        seconds: how long reading took.
        queues: the job queues read (none when ``up`` is False).
        runtime: this process's running app, if the exporter watches one.
        errors: scrapes so far that could not read Redis (this one included).
    """

    up: bool
    seconds: float
    queues: tuple[QueueFigures, ...] = ()
    runtime: RuntimeStatistics | None = None
    errors: int = 0


#: Every metric: name (as exposed, before ``_bucket``/``_sum``/``_count``), type,
#: labels, help text.
METRICS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("thoonk_up", "gauge", (),
     "1 when this scrape read every job queue from Redis within the scrape timeout, else 0"),
    ("thoonk_scrape_duration_seconds", "gauge", (), "Seconds this scrape took to read Redis"),
    ("thoonk_scrape_errors_total", "counter", (),
     "Scrapes that could not read Redis (unreachable, or slower than the scrape timeout)"),
    ("thoonk_job_registered", "gauge", ("queue",),
     "1 when the jobs registry names the queue, 0 when it was found by its keys only"),
    ("thoonk_job_available", "gauge", ("queue",), "Jobs queued and ready to be claimed"),
    ("thoonk_job_claimed", "gauge", ("queue",), "Jobs claimed by a worker and not yet settled"),
    ("thoonk_job_stalled", "gauge", ("queue",), "Jobs put aside for a person to retry or retract"),
    ("thoonk_job_scheduled", "gauge", ("queue",),
     "Jobs waiting for their due time (delayed publishes, retries in backoff)"),
    ("thoonk_job_workers", "gauge", ("queue",), "Workers whose heartbeat is fresh"),
    ("thoonk_job_held_back", "gauge", ("queue", "reason"),
     "1 while the queue's max_per_second (rate) or max_concurrent (concurrency) holds "
     "queued jobs back, else 0"),
    ("thoonk_jobs_published_total", "counter", ("queue",), "Jobs ever published to the queue"),
    ("thoonk_jobs_finished_total", "counter", ("queue",), "Jobs ever finished in the queue"),
    ("thoonk_worker_uptime_seconds", "gauge", ("worker_id",),
     "Seconds since this worker process's app started"),
    ("thoonk_worker_concurrency", "gauge", ("queue",), "Handler tasks of this process"),
    ("thoonk_worker_handlers_running", "gauge", ("queue",), "Handlers running now in this process"),
    ("thoonk_worker_jobs_in_flight", "gauge", ("queue",),
     "Jobs this process claimed and has not settled (buffered, running, outcome unwritten)"),
    ("thoonk_worker_jobs_claimed_total", "counter", ("queue",), "Jobs this process claimed"),
    ("thoonk_worker_jobs_finished_total", "counter", ("queue",),
     "Jobs this process finished with a result"),
    ("thoonk_worker_jobs_cancelled_total", "counter", ("queue",),
     "Jobs this process cancelled because the handler raised or timed out (back to the "
     "queue, or stalled past max_cancels)"),
    ("thoonk_worker_jobs_timed_out_total", "counter", ("queue",),
     "Of the cancelled jobs, those whose handler ran past the timeout"),
    ("thoonk_worker_jobs_stalled_total", "counter", ("queue",),
     "Jobs this process stalled (max_cancels reached, poison, outcome not writable)"),
    ("thoonk_worker_jobs_poisoned_total", "counter", ("queue",),
     "Of the stalled jobs, those whose item could not be decoded (never run)"),
    ("thoonk_worker_jobs_released_total", "counter", ("queue",),
     "Jobs this process gave back without counting a failure (stopping)"),
    ("thoonk_worker_jobs_revoked_total", "counter", ("queue",),
     "Jobs whose claim went away while this process held them (retracted, reaped...)"),
    ("thoonk_worker_jobs_lost_total", "counter", ("queue",),
     "Claims a reaper took back before this process wrote their outcome"),
    ("thoonk_job_handler_duration_seconds", "histogram", ("queue", "outcome"),
     "Seconds each handler run took in this process, by outcome: ok, error, timeout, "
     "revoked, cancelled (a stop past the grace period)"),
)  # fmt: skip

_HELP = {name: text for name, _, _, text in METRICS}
#: thoonk_worker_jobs_<what>_total -> the QueueStatistics field it reads.
_WORKER_COUNTERS = {
    "claimed": "claimed",
    "finished": "finished",
    "cancelled": "failed",
    "timed_out": "timed_out",
    "stalled": "stalled",
    "poisoned": "poisoned",
    "released": "released",
    "revoked": "revoked",
    "lost": "lost",
}


class ThoonkCollector(Collector):
    """A custom collector: each scrape calls ``scrape()`` (bounded, never raises).

    Nothing is polled between scrapes: the figures are read when Prometheus
    asks, so a scrape shows the state of that moment.
    """

    def __init__(self, scrape: Callable[[], Scrape]) -> None:
        self._scrape = scrape

    def describe(self) -> list[Metric]:
        # Empty on purpose: otherwise registering would call collect() (a Redis read).
        return []

    def collect(self) -> Iterator[Metric]:
        yield from families(self._scrape())


def _gauge(name: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, _HELP[name], labels=labels)


def _counter(name: str, labels: tuple[str, ...] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(name.removesuffix("_total"), _HELP[name], labels=labels)


def families(scrape: Scrape) -> list[Metric]:
    """The metric families of one scrape (see :data:`METRICS`)."""
    up = _gauge("thoonk_up")
    up.add_metric([], 1 if scrape.up else 0)
    duration = _gauge("thoonk_scrape_duration_seconds")
    duration.add_metric([], scrape.seconds)
    errors = _counter("thoonk_scrape_errors_total")
    errors.add_metric([], scrape.errors)
    out: list[Metric] = [up, duration, errors]
    if scrape.queues:
        out += _queue_families(scrape.queues)
    if scrape.runtime is not None:
        out += _worker_families(scrape.runtime)
    return out


def _queue_families(queues: tuple[QueueFigures, ...]) -> list[Metric]:
    registered = _gauge("thoonk_job_registered", ("queue",))
    gauges = {
        field: _gauge(f"thoonk_job_{field}", ("queue",))
        for field in ("available", "claimed", "stalled", "scheduled")
    }
    workers = _gauge("thoonk_job_workers", ("queue",))
    held = _gauge("thoonk_job_held_back", ("queue", "reason"))
    published = _counter("thoonk_jobs_published_total", ("queue",))
    finished = _counter("thoonk_jobs_finished_total", ("queue",))
    for queue in queues:
        name, stats = queue.name, queue.stats
        registered.add_metric([name], 1 if queue.registered else 0)
        for field, gauge in gauges.items():
            gauge.add_metric([name], getattr(stats, field))
        workers.add_metric([name], stats.workers_alive)
        for reason in ("concurrency", "rate"):
            held.add_metric([name, reason], 1 if stats.held_back == reason else 0)
        published.add_metric([name], stats.publishes)
        finished.add_metric([name], stats.finishes)
    return [registered, *gauges.values(), workers, held, published, finished]


def _worker_families(runtime: RuntimeStatistics) -> list[Metric]:
    uptime = _gauge("thoonk_worker_uptime_seconds", ("worker_id",))
    uptime.add_metric([runtime.worker_id], runtime.uptime)
    concurrency = _gauge("thoonk_worker_concurrency", ("queue",))
    running = _gauge("thoonk_worker_handlers_running", ("queue",))
    in_flight = _gauge("thoonk_worker_jobs_in_flight", ("queue",))
    counters = {
        what: _counter(f"thoonk_worker_jobs_{what}_total", ("queue",)) for what in _WORKER_COUNTERS
    }
    name = "thoonk_job_handler_duration_seconds"
    durations = HistogramMetricFamily(name, _HELP[name], labels=("queue", "outcome"))
    for queue in runtime.queues:
        concurrency.add_metric([queue.name], queue.concurrency)
        running.add_metric([queue.name], queue.running)
        in_flight.add_metric([queue.name], queue.in_flight)
        for what, counter in counters.items():
            counter.add_metric([queue.name], getattr(queue, _WORKER_COUNTERS[what]))
        _add_durations(durations, queue)
    return [uptime, concurrency, running, in_flight, *counters.values(), durations]


def _add_durations(family: HistogramMetricFamily, queue: QueueStatistics) -> None:
    """One histogram per outcome seen, and "ok" always (Prometheus buckets are cumulative)."""
    seen = queue.durations
    for outcome in HANDLER_OUTCOMES:
        counts = seen.counts.get(outcome)
        if counts is None:
            if outcome != "ok":
                continue
            counts = (0,) * (len(seen.buckets) + 1)
        buckets: list[tuple[str, float]] = []
        total = 0
        for bound, count in zip((*seen.buckets, math.inf), counts, strict=True):
            total += count
            buckets.append(("+Inf" if bound == math.inf else repr(bound), total))
        family.add_metric([queue.name, outcome], buckets, seen.sums.get(outcome, 0.0))
