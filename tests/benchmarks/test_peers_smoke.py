"""CI's smoke of the benchmark harness (issue 13): ``benchmarks/peers.py`` on us alone.

Tiny N, one round, no peers (so no ``bench`` extra and no Node): it runs the
same code paths as a full run (enqueue, bulk, worker CLI at defaults and best
config, round trips, INFO cpu / commandstats) against the test fixture's Redis
and must print its two tables, so the harness cannot rot unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_peers_harness_prints_its_tables_for_us_alone(redis_url: str) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "peers.py"),
            *("--url", redis_url, "--n", "200", "--rounds", "1", "--peers", ""),
            *("--samples", "20", "--timeout", "30"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    rows = [line for line in lines if line.startswith("| thoonk-actors |")]
    assert len(rows) == 2, run.stdout  # the throughput table and the server-cost table
    throughput = [cell.strip() for cell in rows[0].strip("|").split("|")]
    # every job finished (no "only k/N" note) and the ratios to ourselves are 1.00x
    assert "only" not in throughput[4], rows[0]
    assert float(throughput[3].replace(",", "")) > 0, rows[0]
    assert throughput[7] == "1.00x", rows[0]
    assert any(line.startswith("  round trip thoonk-actors") for line in lines), run.stdout
