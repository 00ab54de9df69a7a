"""Scraping an exporter as Prometheus does: an HTTP GET, the text format parsed."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from thoonk_actors.contract import JobStats

#: (sample name, sorted label pairs) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str, timeout: float = 20.0) -> Samples:
    """GET ``url`` (fails after ``timeout`` s) and parse every sample."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        body = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The sample ``name{labels}``, or None when the scrape has no such sample."""
    return samples.get((name, tuple(sorted(labels.items()))))


def queue_values(samples: Samples, queue: str) -> dict[str, float | None]:
    """The queue-level figures of one job queue, keyed like ``JobStats``'s fields."""
    return {
        "available": value(samples, "thoonk_job_available", queue=queue),
        "claimed": value(samples, "thoonk_job_claimed", queue=queue),
        "stalled": value(samples, "thoonk_job_stalled", queue=queue),
        "scheduled": value(samples, "thoonk_job_scheduled", queue=queue),
        "workers_alive": value(samples, "thoonk_job_workers", queue=queue),
        "publishes": value(samples, "thoonk_jobs_published_total", queue=queue),
        "finishes": value(samples, "thoonk_jobs_finished_total", queue=queue),
    }


def stats_values(stats: JobStats) -> dict[str, float | None]:
    """What :func:`queue_values` must equal for a queue whose ``statistics()`` are ``stats``."""
    fields = ("available", "claimed", "stalled", "scheduled", "workers_alive")
    return {
        **{field: getattr(stats, field) for field in fields},
        "publishes": stats.publishes,
        "finishes": stats.finishes,
    }
