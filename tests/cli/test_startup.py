"""The command line imports only what the chosen command needs (start-up time).

``thoonk --help`` builds every command's parser: the parsers must not import
trio, redis-py, the client objects, the runtime or the embedded server (see
``benchmarks/cli_startup.py`` for the times).
"""

from __future__ import annotations

import subprocess
import sys

from thoonk_actors.cli import _metrics, _stats
from thoonk_actors.metrics import SCRAPE_TIMEOUT
from thoonk_actors.metrics._exporter import DEFAULT_HOST
from thoonk_actors.objects import DISCOVERY_BUDGET_S

HEAVY = (
    "trio",
    "redis",
    "thoonk_actors.objects",
    "thoonk_actors.transport",
    "thoonk_actors.runtime",
    "thoonk_actors.embedded",
    "thoonk_actors.metrics",
    "importlib.metadata",
)

PROBE = f"""
import sys
from thoonk_actors.cli._main import build_parser
build_parser()
print(",".join(name for name in {HEAVY!r} if name in sys.modules))
"""


def test_building_the_parser_imports_nothing_heavy() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""


def test_the_parsers_defaults_are_the_libraries() -> None:
    assert (_metrics.DEFAULT_HOST, _metrics.SCRAPE_TIMEOUT) == (DEFAULT_HOST, SCRAPE_TIMEOUT)
    assert _stats.DISCOVERY_BUDGET_S == DISCOVERY_BUDGET_S
