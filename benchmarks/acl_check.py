"""What the generated ACL check (contract/_acl.py) costs Redis per call, on the hot paths.

Usage::

    python benchmarks/acl_check.py --url unix:///tmp/mine/redis.sock [--calls 2000] [--rounds 5]

Needs Redis 7+ (on 6.2 the check is one ``if`` that finds no ``redis.acl_check_cmd``).
It runs FLUSHDB and CONFIG RESETSTAT: give it a server of its own.

Interleaved rounds, each timing job publish, job claim, job finish and feed
publish three times -- without the check (the scripts loaded with the
preamble left out), with the full check on every call, and as shipped (the
full check once per script per connection, then the light form that checks
only the channels) -- as ``INFO commandstats`` EVALSHA usec per call, reset
before each phase; prints the median of the rounds per path and mode.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import redis

from thoonk_actors.contract import _scripts, load_script
from thoonk_actors.contract._acl import acl_preamble
from thoonk_actors.sync import SyncThoonk, connect
from thoonk_actors.transport import _client

MODES = ("without", "every call", "shipped")


def _usec_per_call(client: redis.Redis) -> float:
    stats = client.info("commandstats")
    return float(stats.get("cmdstat_evalsha", {}).get("usec_per_call", 0.0))


def _phase(client: redis.Redis, run: Callable[[], None]) -> float:
    client.config_resetstat()
    run()
    return _usec_per_call(client)


def _round(url: str, client: redis.Redis, calls: int, mode: str) -> dict[str, float]:
    _scripts.load_script.cache_clear()
    original = _scripts.acl_preamble
    choose = _client.RedisClient._script_to_run
    if mode == "without":
        _scripts.acl_preamble = lambda source, commands=True: ""  # type: ignore[assignment]
    elif mode == "every call":
        _client.RedisClient._script_to_run = lambda self, script: script  # type: ignore[method-assign]
    try:
        client.flushdb()
        t: SyncThoonk
        with connect(url) as t:
            jobs, feed = t.job("bench"), t.feed("bench")
            jobs.publish(0)  # scripts loaded before the statistics start
            claimed: list[object] = []
            out = {
                "job publish": _phase(client, lambda: [jobs.publish(n) for n in range(calls)]),
                "job claim": _phase(
                    client, lambda: claimed.extend(jobs.get(timeout=1) for _ in range(calls))
                ),
                "job finish": _phase(client, lambda: [jobs.finish(c, 1) for c in claimed]),  # type: ignore[arg-type]
                "feed publish": _phase(client, lambda: [feed.publish(n) for n in range(calls)]),
            }
    finally:
        _scripts.acl_preamble = original
        _client.RedisClient._script_to_run = choose  # type: ignore[method-assign]
        _scripts.load_script.cache_clear()
    return out


#: KEYS[1] and ARGV of each path, as the builders send them (the other KEYS do not matter).
SHAPES: dict[str, tuple[str, list[str]]] = {
    "job/publish": (
        "job.ids:bench",
        ["j1", '{"n":1}', "0", "event.job.publish:bench", "bench", "",
         "event.job.schedule:bench", "", "0", ""],
    ),
    "job/claim": ("job.config:bench", ["w1:tok", "1", "event.job.claim:bench", "", "5"]),
    "job/finish": ("job.config:bench", ["j1", "tok", "1", '{"ok":1}', "event.job.finish:bench"]),
    "feed/publish": (
        "feed.config:bench",
        ["x", '{"a":1}', "event.feed.publish:bench", "event.feed.edit:bench",
         "event.feed.retract:bench", "bench"],
    ),
}  # fmt: skip


def _loop_usec(client: redis.Redis, body: str, key: str, argv: list[str], n: int = 5000) -> float:
    sha = client.script_load(f"for i = 1, {n} do\n{body}\nend\nreturn 1")
    best = float("inf")
    for _ in range(7):
        client.config_resetstat()
        client.evalsha(sha, 1, key, *argv)
        best = min(best, float(client.info("commandstats")["cmdstat_evalsha"]["usec"]) / n)
    return best


def preamble_costs(client: redis.Redis) -> None:
    """Print the usec per call of each path's full and light preamble alone."""
    print(f"\n{'script':<14}{'full':>10}{'light':>10}  (preamble alone, usec/call)")
    for name, (key, argv) in SHAPES.items():
        source = load_script(name).source
        empty = _loop_usec(client, "", key, argv)
        full = _loop_usec(client, acl_preamble(source), key, argv) - empty
        light = _loop_usec(client, acl_preamble(source, commands=False), key, argv) - empty
        print(f"{name:<14}{full:>10.2f}{light:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    client = redis.Redis.from_url(args.url)
    print("Redis", client.info("server")["redis_version"])
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for mode in MODES:
            for path, usec in _round(args.url, client, args.calls, mode).items():
                results.setdefault((path, mode), []).append(usec)
    print(f"{'path':<14}" + "".join(f"{m:>12}" for m in MODES) + "  (EVALSHA usec/call, lowest)")
    for path in ("job publish", "job claim", "job finish", "feed publish"):
        cells = [min(results[(path, mode)]) for mode in MODES]
        print(f"{path:<14}" + "".join(f"{c:>12.2f}" for c in cells))
    preamble_costs(client)


if __name__ == "__main__":
    main()
