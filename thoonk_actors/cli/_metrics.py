"""``thoonk metrics --port N``: serve job queue metrics to Prometheus until Ctrl-C.

Synopsis::

    thoonk metrics --port 9100                     # every job queue, http://127.0.0.1:9100/metrics
    thoonk metrics --port 9100 --host 0.0.0.0 emails thumbnails

The figures are read from Redis when Prometheus scrapes (the queues'
``statistics()``, as ``thoonk stats`` shows them); see
:mod:`thoonk_actors.metrics`. A worker's own figures (handler durations) come
from ``thoonk worker ... --metrics-port N`` instead.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._common import EXIT_OK, Subparsers, add_command, add_redis_options, emit, seconds
from ._run import run_with_thoonk
from ._stats import add_discovery_options

if TYPE_CHECKING:
    from ..objects import Thoonk

#: ``thoonk_actors.metrics``' defaults, repeated here so that the parser does not import
#: the exporter (trio, redis-py); tests/cli/test_startup.py checks they are the same.
DEFAULT_HOST = "127.0.0.1"
SCRAPE_TIMEOUT = 5.0


def tcp_port(*, allow_zero: bool) -> Callable[[str], int]:
    """An argparse ``type`` for a TCP port (0: any free one, when allowed)."""
    low = 0 if allow_zero else 1

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if not low <= value <= 65535:
            raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port from {low} to 65535")
        return value

    return parse


def add_parser(
    commands: Subparsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    metrics = add_command(
        commands,
        "metrics",
        common,
        help="serve job queue metrics to Prometheus (needs thoonk-actors[metrics])",
        description=(
            "Serve Prometheus metrics of job queues on http://HOST:PORT/metrics until Ctrl-C "
            "(exit 0): available, claimed, stalled, scheduled, live workers, held back, and the "
            "published and finished totals of each queue, read from Redis at every scrape "
            "(bounded by --scrape-timeout; thoonk_up is 0 when Redis does not answer). Without "
            "NAMEs: every job queue (the jobs registry, and a SCAN for unregistered ones every "
            "30 s). Prints the URL once it listens. Needs the prometheus-client library: "
            "pip install 'thoonk-actors[metrics]'. Exit codes: 0 stopped by Ctrl-C, 2 the port "
            "cannot be used or the library is missing, 3 Redis cannot be reached at start."
        ),
        examples="""\
  thoonk metrics --port 9100
  thoonk metrics --port 9100 --host 0.0.0.0 emails thumbnails
  curl -s localhost:9100/metrics | grep '^thoonk_job_available'
""",
    )
    metrics.add_argument("names", metavar="NAME", nargs="*", help="job queues to export")
    metrics.add_argument(
        "--port",
        metavar="N",
        type=tcp_port(allow_zero=True),
        required=True,
        help="the TCP port to listen on (0: any free port; the URL printed says which)",
    )
    metrics.add_argument(
        "--host",
        metavar="HOST",
        default=DEFAULT_HOST,
        help=f"the interface to listen on (default: {DEFAULT_HOST}, this machine only; "
        "0.0.0.0 for every interface)",
    )
    metrics.add_argument(
        "--scrape-timeout",
        metavar="SECONDS",
        type=seconds(allow_zero=False),
        default=SCRAPE_TIMEOUT,
        help=f"how long a scrape may spend reading Redis (default: {SCRAPE_TIMEOUT:g})",
    )
    add_discovery_options(metrics)
    add_redis_options(metrics)
    metrics.set_defaults(handler=_metrics)


def _metrics(args: argparse.Namespace) -> int:
    import trio

    from ..metrics import open_metrics_exporter, require_prometheus_client
    from ._signals import cancel_on_sigint

    require_prometheus_client()  # exit 2 with the install command, before Redis is asked

    async def command(thoonk: Thoonk) -> int:
        async with trio.open_nursery() as nursery:
            await nursery.start(cancel_on_sigint, nursery.cancel_scope)
            async with open_metrics_exporter(
                thoonk,
                port=args.port,
                host=args.host,
                queues=args.names or None,
                scrape_timeout=args.scrape_timeout,
                scan=args.scan,
                scan_budget=args.scan_budget,
            ) as exporter:
                emit(f"serving metrics on {exporter.url}; Ctrl-C stops")
                await trio.sleep_forever()
        return EXIT_OK

    return run_with_thoonk(args, command)
