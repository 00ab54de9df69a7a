"""Classic PUBLISH versus sharded SPUBLISH on a local Redis Cluster: what each costs.

Usage::

    THOONK_REDIS_SERVER=/usr/bin/redis-server python benchmarks/cluster_pubsub.py \\
        [--messages 20000] [--rounds 3]

Needs a Redis 7 binary (SPUBLISH). Starts its own 3 primaries + 3 replicas
(tests/cluster/_local.py) and removes them at the end. Interleaved rounds,
each publishing ``--messages`` messages of 100 bytes, pipelined, to one
channel from the primary of its slot, with one subscriber reading them all:

* ``classic, home``: PUBLISH, subscriber on the publishing node (what
  thoonk-actors does: SUBSCRIBE on the object's primary);
* ``classic, other``: PUBLISH, subscriber on another primary;
* ``sharded``: SPUBLISH / SSUBSCRIBE (on the slot's primary).

Reported per mode (median of the rounds): the publishing node's usec per
call (INFO commandstats), the CPU seconds all six nodes spent together
(used_cpu_sys + used_cpu_user), and the cluster-bus messages sent
(CLUSTER INFO ``cluster_stats_messages_publish*_sent``).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import threading
import time
from pathlib import Path

from redis.crc import key_slot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.cluster._local import LocalCluster
from thoonk_actors.embedded import find_redis_server

CHANNEL = "event.job.finish:{emails}"
MODES = ("classic, home", "classic, other", "sharded")


def _owner(cluster: LocalCluster) -> int:
    slot = key_slot(b"{emails}")
    with contextlib.closing(cluster.client(cluster.ports[0])) as c:
        for first, last, primary, *_ in c.execute_command("CLUSTER", "SLOTS"):
            if first <= slot <= last:
                return int(primary[1])
    raise RuntimeError("no owner")


def _cpu(cluster: LocalCluster) -> float:
    total = 0.0
    for port in cluster.ports:
        with contextlib.closing(cluster.client(port)) as c:
            info = c.info("cpu")
            total += float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    return total


def _bus(cluster: LocalCluster) -> int:
    sent = 0
    for port in cluster.ports:
        with contextlib.closing(cluster.client(port)) as c:
            raw = c.execute_command("CLUSTER", "INFO")
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            for line in text.splitlines():
                if line.startswith("cluster_stats_messages_publish") and "_sent:" in line:
                    sent += int(line.split(":")[1])
    return sent


def _round(cluster: LocalCluster, mode: str, messages: int) -> tuple[float, float, int]:
    home = _owner(cluster)
    other = next(p for p in cluster.ports[:3] if p != home)
    sub_port = other if mode == "classic, other" else home
    sharded = mode == "sharded"
    subscriber = cluster.client(sub_port)
    pubsub = subscriber.pubsub()
    if sharded:
        pubsub.ssubscribe(CHANNEL)
    else:
        pubsub.subscribe(CHANNEL)
    while pubsub.get_message(timeout=1) is None:  # the acknowledgement
        pass
    received = 0
    done = threading.Event()

    def read() -> None:
        nonlocal received
        while received < messages:
            msg = (
                pubsub.get_sharded_message(timeout=5) if sharded else pubsub.get_message(timeout=5)
            )
            if msg is None:
                break
            if msg["type"] in ("message", "smessage"):
                received += 1
        done.set()

    reader = threading.Thread(target=read)
    reader.start()
    publisher = cluster.client(home)
    publisher.config_resetstat()
    cpu0, bus0 = _cpu(cluster), _bus(cluster)
    payload = b"x" * 100
    command = "SPUBLISH" if sharded else "PUBLISH"
    for start in range(0, messages, 500):
        pipe = publisher.pipeline(transaction=False)
        for _ in range(min(500, messages - start)):
            pipe.execute_command(command, CHANNEL, payload)
        pipe.execute()
    done.wait(60)
    reader.join()
    cpu1, bus1 = _cpu(cluster), _bus(cluster)
    stats = publisher.info("commandstats").get(f"cmdstat_{command.lower()}", {})
    usec = float(stats.get("usec_per_call", 0.0))
    pubsub.close()
    subscriber.close()
    publisher.close()
    if received != messages:
        raise RuntimeError(f"{mode}: received {received} of {messages}")
    return usec, cpu1 - cpu0, bus1 - bus0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with LocalCluster.start(str(find_redis_server())) as cluster:
        results: dict[str, list[tuple[float, float, int]]] = {m: [] for m in MODES}
        for _ in range(args.rounds):
            for mode in MODES:
                results[mode].append(_round(cluster, mode, args.messages))
                time.sleep(0.2)  # let the bus settle between phases (benchmark, not a test)
    print(f"{args.messages} messages of 100 bytes, median of {args.rounds} interleaved rounds")
    print(f"{'mode':16} {'usec/call':>10} {'cpu s (6 nodes)':>16} {'bus msgs':>9}")
    for mode, rows in results.items():
        usec = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        bus = statistics.median(r[2] for r in rows)
        print(f"{mode:16} {usec:10.2f} {cpu:16.3f} {bus:9.0f}")


if __name__ == "__main__":
    main()
