"""How long a ``thoonk`` command takes from exec to exit, most of which is importing.

Synopsis::

    python benchmarks/cli_startup.py --url redis://127.0.0.1:6379/11 --runs 15
    # compare two source trees in one interleaved run (e.g. before/after a change):
    git archive main | tar -x -C /tmp/before
    python benchmarks/cli_startup.py --url ... --variant before=/tmp/before --variant after=.

Each run starts ``python -m thoonk_actors ARGS`` as a fresh process (as the
tests and users do) for: ``--help``, ``publish job``, ``stats`` and ``get``
(against the Redis at ``--url``; the job queue ``bench-cli-startup`` is
deleted at the end), plus ``python -c pass`` as the floor. The commands and
variants are interleaved, in a shuffled order each round, so that the noise of
a shared machine falls on all of them alike; the median and the spread
(25th-75th percentile) of the wall time are printed. ``--importtime`` adds, per
variant, the sum of ``python -X importtime`` self times for each command (what
importing costs, without the work of the command).

A variant is ``NAME=SOURCE_DIR``: ``SOURCE_DIR`` goes first on ``PYTHONPATH``,
so its ``thoonk_actors`` is the one imported (the dependencies are this
interpreter's). Without ``--variant``: the installed package, as ``current``.

``--pyc`` adds each variant once more as ``NAME+pyc``, with
``PYTHONDONTWRITEBYTECODE`` removed and ``PYTHONPYCACHEPREFIX`` set to a
temporary folder: where the environment sets ``PYTHONDONTWRITEBYTECODE=1``
(this machine's does), every start compiles the package's sources again, and
this shows what that costs.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUEUE = "bench-cli-startup"


def commands(url: str) -> dict[str, list[str]]:
    thoonk = ["-m", "thoonk_actors"]
    return {
        "python -c pass": ["-c", "pass"],
        "thoonk --help": [*thoonk, "--help"],
        "thoonk publish job": [*thoonk, "publish", "job", QUEUE, "1", "--url", url],
        "thoonk stats": [*thoonk, "stats", "--url", url],
        "thoonk get": [*thoonk, "get", QUEUE, "--timeout", "0", "--url", url],
    }


def environment(source: str | None, pycache: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "THOONK_REDIS_URL")}
    if source is not None:
        env["PYTHONPATH"] = str(Path(source).resolve())
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def run_once(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of one run; cpu is the process's user + system time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *argv], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):  # get --timeout 0 on an empty queue exits 1
        raise SystemExit(f"{argv} failed ({done.returncode}): {done.stderr.strip()}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def import_total(argv: list[str], env: dict[str, str], cwd: str) -> float:
    """Seconds: the sum of the self times that ``-X importtime`` reports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    total = 0
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            total += int(line.split("|")[0].split(":")[1])
    return total / 1e6


def cleanup(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"*{QUEUE}*", count=1000))
    if keys:
        client.delete(*keys)
    client.srem("jobs", QUEUE)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], statistics.median(values), q[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=SOURCE_DIR")
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--pyc", action="store_true", help="also each variant with .pyc files")
    args = parser.parse_args()
    variants: dict[str, str | None] = {"current": None}
    if args.variant:
        variants = dict(v.split("=", 1) for v in args.variant)  # type: ignore[misc]
    cmds = commands(args.url)
    with tempfile.TemporaryDirectory() as cwd:  # so `-m` never finds ./thoonk_actors
        envs = {name: environment(src) for name, src in variants.items()}
        if args.pyc:
            for name, src in list(variants.items()):
                variants[f"{name}+pyc"] = src
                envs[f"{name}+pyc"] = environment(src, os.path.join(cwd, f"pyc-{name}"))
        times: dict[tuple[str, str], list[float]] = {(v, c): [] for v in variants for c in cmds}
        cpus: dict[tuple[str, str], list[float]] = {key: [] for key in times}
        try:
            for name in variants:  # warm the caches (.pyc, page cache) once
                for argv in cmds.values():
                    run_once(argv, envs[name], cwd)
            for _ in range(args.runs):
                order = list(times)
                random.shuffle(order)
                for variant, command in order:
                    wall, cpu = run_once(cmds[command], envs[variant], cwd)
                    times[variant, command].append(wall)
                    cpus[variant, command].append(cpu)
            imports: dict[tuple[str, str], float] = {}
            if args.importtime:
                for key in times:
                    samples = [import_total(cmds[key[1]], envs[key[0]], cwd) for _ in range(5)]
                    imports[key] = statistics.median(samples)
        finally:
            cleanup(args.url)
    header = f"{'command':<22}" + "".join(f"{v:>24}" for v in variants)
    for title, samples in (("wall time", times), ("CPU time (user + system)", cpus)):
        print(f"{args.runs} runs each, interleaved; {title} in ms: median (25th-75th percentile)")
        print(header)
        for command in cmds:
            cells = []
            for variant in variants:
                low, mid, high = quartiles(samples[variant, command])
                cells.append(f"{mid * 1e3:7.0f} ({low * 1e3:4.0f}-{high * 1e3:4.0f})")
            print(f"{command:<22}" + "".join(f"{c:>24}" for c in cells))
        print()
    if imports:
        print("import time (sum of -X importtime self times, median of 5), ms")
        print(header)
        for command in cmds:
            cells = [f"{imports[v, command] * 1e3:.0f}" for v in variants]
            print(f"{command:<22}" + "".join(f"{c:>24}" for c in cells))


if __name__ == "__main__":
    main()
