"""Redis CPU of hot job scripts with only the prelude helpers they use, or all of them.

Usage::

    redis-server --port 6392 --save '' --daemonize yes     # a server of its own
    python benchmarks/prelude_helpers.py --url redis://127.0.0.1:6392/0 [--rounds 40]

``contract/_scripts.py`` puts in front of each script only the prelude helpers it
calls (found by a regex over the Lua text). The alternative is the whole prelude
in front of every script. Scripts are cached by SHA, so the text is parsed once
(SCRIPT LOAD); what a larger prelude costs is on every call: each ``local
function`` of the prelude is a new closure, each table constructor a new table.

It runs ``CONFIG RESETSTAT`` and reads ``INFO commandstats``: give it a server
of its own. Each round queues ``--calls`` jobs, then for each variant in turn
("used": what ``load_script`` builds; "all": the whole prelude) claims them one
per EVALSHA (``job/claim``, max_jobs=1), then finishes them with their token
(``job/finish``), and reads the server's microseconds per call of each chunk.
Both variants get the light ACL preamble (what a connection runs once its
first call was checked). Prints the median per script and variant, the median of
the per-round differences, and the SCRIPT LOAD time of each.
"""

from __future__ import annotations

import argparse
import statistics
import time

import redis

from thoonk_actors.contract import JobKeys, job_claim, job_finish, job_publish_new, job_touch
from thoonk_actors.contract._acl import acl_preamble
from thoonk_actors.contract._scripts import _prelude, _root, load_script, prelude_for

HOT = ("job/claim", "job/finish", "job/touch")


def compose(name: str, *, everything: bool) -> str:
    """The light script text of ``name`` with the used helpers, or with the whole prelude."""
    kind, _, op = name.partition("/")
    body = _root().joinpath(kind, f"{op}.lua").read_text(encoding="utf-8")
    source = (_prelude() if everything else prelude_for(body)) + "\n" + body
    return acl_preamble(source, commands=False) + source


def usec(r: redis.Redis, command: str = "evalsha") -> float:
    stats = r.info("commandstats")[f"cmdstat_{command}"]
    return float(stats["usec"]) / int(stats["calls"])


def run(r: redis.Redis, sha: str, calls: list[tuple[tuple[bytes | str, ...], ...]]) -> tuple:
    r.config_resetstat()
    pipe = r.pipeline(transaction=False)
    for keys, args in calls:
        pipe.evalsha(sha, len(keys), *keys, *args)
    replies = pipe.execute()
    return usec(r), replies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    r = redis.Redis.from_url(args.url)
    keys = JobKeys.of("bench-prelude")
    r.delete(*[getattr(keys, f) for f in ("ids", "items", "claimed", "owners", "published")])
    variants = ("used", "all")
    shas: dict[tuple[str, str], str] = {}
    sizes: dict[tuple[str, str], int] = {}
    loads: dict[tuple[str, str], list[float]] = {}
    for name in HOT:
        for variant in variants:
            text = compose(name, everything=variant == "all")
            sizes[name, variant] = len(text)
            loads[name, variant] = []
            for _ in range(20):
                r.script_flush()
                r.config_resetstat()
                shas[name, variant] = r.script_load(text)
                loads[name, variant].append(usec(r, "script|load"))
    r.script_flush()
    for name, variant in list(shas):
        shas[name, variant] = r.script_load(compose(name, everything=variant == "all"))
    publish = load_script("job/publish_new")
    publish_sha = r.script_load(publish.source)
    results: dict[tuple[str, str], list[float]] = {key: [] for key in shas}
    n = 0
    t0 = time.monotonic()
    for round_no in range(args.rounds):
        order = variants if round_no % 2 == 0 else variants[::-1]
        for variant in order:
            pipe = r.pipeline(transaction=False)
            for _ in range(args.calls):
                n += 1
                call = job_publish_new(keys, f"j{n}", b'{"n": %d}' % n)
                pipe.evalsha(publish_sha, len(call.keys), *call.keys, *call.args)
            pipe.execute()
            claim = job_claim(keys, "bench:1", max_jobs=1, lease_ms=30_000)
            cost, replies = run(
                r, shas["job/claim", variant], [(claim.keys, claim.args)] * args.calls
            )
            results["job/claim", variant].append(cost)
            jobs = [claim.decode(reply).jobs[0] for reply in replies]
            touches = []
            finishes = []
            for job in jobs:
                t = job_touch(keys, job.id, job.token)
                touches.append((t.keys, t.args))
                f = job_finish(keys, job.id, token=job.token)
                finishes.append((f.keys, f.args))
            cost, _ = run(r, shas["job/touch", variant], touches)
            results["job/touch", variant].append(cost)
            cost, replies = run(r, shas["job/finish", variant], finishes)
            assert all(reply[0] == b"ok" for reply in replies), replies[:2]
            results["job/finish", variant].append(cost)
    print(f"{args.rounds} rounds of {args.calls} calls, {time.monotonic() - t0:.1f} s")
    print(
        f"{'script':<12} {'variant':<5} {'chars':>6} {'load us':>8} {'us/call':>8} {'p25-p75':>12}"
    )
    for name in HOT:
        for variant in variants:
            values = results[name, variant]
            q = statistics.quantiles(values, n=4)
            print(
                f"{name:<12} {variant:<7} {sizes[name, variant]:>6} "
                f"{statistics.median(loads[name, variant]):>8.0f} "
                f"{statistics.median(values):>8.2f} {q[0]:5.2f}-{q[2]:5.2f}"
            )
        ratio = statistics.median(results[name, "all"]) / statistics.median(results[name, "used"])
        paired = statistics.median(
            a - u for a, u in zip(results[name, "all"], results[name, "used"], strict=True)
        )
        print(f"{name:<12} all / used = {ratio:.3f}; all - used per round: {paired:+.2f} us")


if __name__ == "__main__":
    main()
