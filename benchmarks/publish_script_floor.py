"""What the publish script costs Redis beside smaller scripts doing less (issue 13).

Usage::

    redis-server --port 6398 --save '' --appendonly no --daemonize yes
    python benchmarks/publish_script_floor.py --url redis://127.0.0.1:6398/0 \
        [--calls 2000] [--rounds 7]

It runs FLUSHDB and CONFIG RESETSTAT: give it a server of its own. Cases, each
EVALSHA'd ``--calls`` times per round with a fresh UUID and the same 5 keys and
5 arguments as ``job/publish_new``, interleaved, ``INFO commandstats`` EVALSHA
usec per call, median (and lowest) of the rounds:

* an empty script (``return 1``): EVALSHA's own floor;
* the original Thoonk Jobs publish: ``LPUSH``, ``INCR``, ``HSET``, ``ZADD``;
* the same plus ``TIME``, the registry ``SADD`` and the ``publish`` event
  (what CONTRACT.md adds), with plain ``redis.call``;
* ``job/publish_new`` without its ACL preamble (the refusal machinery:
  ``HEXISTS``, ``redis.pcall``, the undo closures);
* ``job/publish_new`` with the light ACL check (channels only: what a
  connection runs after its first call) and with the full one
  (``benchmarks/acl_check.py`` measures the checks alone).
"""

from __future__ import annotations

import argparse
import statistics
import uuid

import redis

from thoonk_actors.contract import load_script

ORIGINAL = (
    "redis.call('LPUSH', KEYS[2], ARGV[1]); redis.call('INCR', KEYS[4]); "
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]); "
    "redis.call('ZADD', KEYS[3], 1700000000000, ARGV[1]); return {'ok'}"
)
CONTRACT_CALLS = (
    "local t = redis.call('TIME'); redis.call('LPUSH', KEYS[2], ARGV[1]); "
    "redis.call('INCR', KEYS[4]); redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]); "
    "redis.call('ZADD', KEYS[3], t[1], ARGV[1]); redis.call('SADD', KEYS[5], ARGV[5]); "
    "redis.call('PUBLISH', ARGV[4], ARGV[1]); return {'ok', ARGV[1], 1}"
)
KEYS = ("job.items:b", "job.ids:b", "job.published:b", "job.publishes:b", "thoonk.registry")


def cases() -> dict[str, str]:
    script = load_script("job/publish_new")
    assert script.light is not None
    body = script.source[script.source.index("\nlocal function") :]  # the preamble is first
    return {
        "empty script (5 keys, 5 args)": "return 1",
        "original publish (4 calls)": ORIGINAL,
        "+ TIME, SADD, PUBLISH (7 calls)": CONTRACT_CALLS,
        "publish_new, no ACL preamble": body,
        "publish_new, light ACL check": script.light.source,
        "publish_new, full ACL check": script.source,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a server of its own (FLUSHDB)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    client = redis.Redis.from_url(args.url)
    shas = {name: client.script_load(text) for name, text in cases().items()}
    per_call: dict[str, list[float]] = {name: [] for name in shas}
    for _ in range(args.rounds):
        for name, sha in shas.items():
            client.flushdb()
            client.config_resetstat()
            for _ in range(args.calls):
                job_id = str(uuid.uuid4())
                args_ = (job_id, '{"i": 1}', "0", "event.job.publish:b", "b")
                client.evalsha(sha, len(KEYS), *KEYS, *args_)
            stats = client.info("commandstats")["cmdstat_evalsha"]
            per_call[name].append(float(stats["usec_per_call"]))
    print(f"Redis {client.info('server')['redis_version']}; EVALSHA usec per call")
    for name, values in per_call.items():
        print(f"  {name:<34} {statistics.median(values):6.2f}  (lowest {min(values):.2f})")


if __name__ == "__main__":
    main()
