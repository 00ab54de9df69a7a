"""Redis CPU of the feed publish script: this tree's against another version, interleaved.

Usage::

    git show <rev>:thoonk_actors/contract/scripts/feed/publish.lua > /tmp/old-publish.lua
    python benchmarks/feed_publish_script.py --url unix:///tmp/r.sock \\
        --before /tmp/old-publish.lua [--rounds 60] [--calls 200]

It runs ``CONFIG RESETSTAT`` and reads ``INFO commandstats``: give it a
server of its own. Each round runs, one after the other, every case with the
``--before`` script, this tree's script and ``MINIMAL`` (the same writes with
no checks, no registry, no eviction), ``--calls`` EVALSHAs each, and reads the
server's microseconds per call. Cases: a new id on an unbounded feed, a new id
on a feed bounded to 100 items (one eviction per publish once full), an edit
of an existing id. Both scripts get this tree's prelude and the light ACL
preamble (what a connection sends once its first call was checked). Prints
the median per case of the rounds and the ratio to ``MINIMAL``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).parent))

from feeds import MINIMAL

from thoonk_actors.contract import FeedKeys, feed_publish
from thoonk_actors.contract._acl import acl_preamble
from thoonk_actors.contract._scripts import load_script, prelude_for


def compose(body: str) -> str:
    source = prelude_for(body) + "\n" + body
    return acl_preamble(source, commands=False) + source


def usec(r: redis.Redis) -> float:
    stats = r.info("commandstats")["cmdstat_evalsha"]
    return float(stats["usec"]) / int(stats["calls"])


ITEM = b'{"title": "an item of a realistic size", "n": %d}'


class Case:
    """One feed (its own keys) published to by one script, in chunks."""

    def __init__(self, r: redis.Redis, sha: str, case: str, tag: str) -> None:
        self.r, self.sha, self.case, self.n = r, sha, case, 0
        if case == "minimal":
            keys = FeedKeys.of(f"ab-{tag}")
            self.keys: list[bytes | str] = [keys.ids, keys.items, keys.publishes]
            self.tail: list[bytes | str] = ["bench-x"]
            r.delete(*self.keys)
            return
        keys = FeedKeys.of(f"ab-{tag}-{case}")
        r.delete(keys.config, keys.ids, keys.items, keys.publishes)
        if case == "bounded":
            r.hset(keys.config, "max_length", 100)
        call = feed_publish(keys, "x", b"{}")
        self.keys = list(call.keys)
        self.tail = list(call.args[2:])
        if case in ("bounded", "edit"):
            for i in range(100):
                r.evalsha(sha, len(self.keys), *self.keys, f"p{i}", b"{}", *self.tail)

    def chunk(self, calls: int) -> float:
        """Server microseconds per call over ``calls`` publishes."""
        r = self.r
        r.config_resetstat()
        pipe = r.pipeline(transaction=False)
        for _ in range(calls):
            i = self.n = self.n + 1
            item_id = f"p{i % 100}" if self.case == "edit" else f"n{i}"
            pipe.evalsha(self.sha, len(self.keys), *self.keys, item_id, ITEM % i, *self.tail)
        pipe.execute()
        return usec(r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--before", required=True, help="the other feed/publish.lua")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    r = redis.Redis.from_url(args.url)
    before = r.script_load(compose(Path(args.before).read_text()))
    now_script = load_script("feed/publish")
    after = r.script_load((now_script.light or now_script).source)
    minimal = r.script_load(MINIMAL.source)
    cases = ("unbounded", "bounded", "edit")
    runs = {
        f"{case} {tag}": Case(r, sha, case, tag)
        for case in cases
        for tag, sha in (("before", before), ("after", after))
    }
    runs["minimal"] = Case(r, minimal, "minimal", "minimal")
    results: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, case in runs.items():
            results[name].append(case.chunk(args.calls))
    floor = statistics.median(results["minimal"])
    print(f"{'case':<18} {'median us/call':>15} {'x minimal':>10}  {'p25-p75':>12}")
    for name, values in results.items():
        q = statistics.quantiles(values, n=4)
        med = statistics.median(values)
        print(f"{name:<18} {med:>15.1f} {med / floor:>10.2f}  {q[0]:5.1f}-{q[2]:5.1f}")


if __name__ == "__main__":
    main()
