"""The Node peers of ``benchmarks/peers.py``: BullMQ and bee-queue, from npm.

:func:`install` puts them (and ioredis, which BullMQ 5+ loads as an optional
peer) into a scratch folder (``/tmp/peers-node`` unless ``$PEERS_NODE_DIR``),
never into the repository; ``benchmarks/node/peer.cjs`` drives one step per
process (see its header), and prints JSON on stdout.

Finish times: the worker process counts its library's completion events
(BullMQ ``completed``, bee-queue ``succeeded``) and reports the first and last
(ms). Defaults: concurrency 1 (both libraries' default); best: concurrency 50.

The original JavaScript Thoonk Jobs is not on the npm registry (neither
``thoonk`` nor ``thoonk-jobs`` resolve), so it is not among the peers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.peers_base import ROOT, Peer, stop

NODE_DIR = Path(os.environ.get("PEERS_NODE_DIR", "/tmp/peers-node"))
DRIVER = ROOT / "benchmarks" / "node" / "peer.cjs"
PACKAGES = ["bullmq", "ioredis", "bee-queue"]
BEST_CONCURRENCY = 50


def install() -> None:
    """npm-install the Node peers into the scratch folder (once; a no-op when present)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise SystemExit("the Node peers need node and npm on PATH")
    if all((NODE_DIR / "node_modules" / p).is_dir() for p in PACKAGES):
        return
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    if not (NODE_DIR / "package.json").exists():
        (NODE_DIR / "package.json").write_text('{"name": "peers-node", "private": true}\n')
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", *PACKAGES], cwd=NODE_DIR, check=True
    )


def node(lib: str, mode: str, url: str, n: int, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NODE_PATH": str(NODE_DIR / "node_modules")}
    return subprocess.Popen(
        ["node", str(DRIVER), lib, mode, url, str(n), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def report(process: subprocess.Popen[bytes], timeout: float = 600) -> dict[str, Any]:
    out, _ = process.communicate(timeout=timeout)
    lines = out.decode().strip().splitlines()
    if not lines:
        raise RuntimeError(f"the Node driver printed nothing (exit {process.returncode})")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


class NodePeer(Peer):
    lib = ""
    bulk_api = True
    best_how = f"concurrency {BEST_CONCURRENCY}"
    roundtrip_api = True

    def enqueue(self) -> float:
        result = report(node(self.lib, "enqueue", self.url, self.n))
        self.enqueue_cpu_us = float(result["cpu_us"])
        return float(result["rate"])

    def bulk(self) -> float:
        return float(report(node(self.lib, "bulk", self.url, self.n))["rate"])

    def process(self, timeout: float, best: bool) -> tuple[float, int]:
        concurrency = str(BEST_CONCURRENCY if best else 1)
        worker = node(self.lib, "work", self.url, self.n, concurrency)
        try:
            result = report(worker, timeout)
        except subprocess.TimeoutExpired:
            stop(worker)
            result = report(worker, 10)
        done = int(result["done"])
        if done < 2:
            return 0.0, done
        return (done - 1) / max((result["last"] - result["first"]) / 1000, 1e-6), done

    def roundtrip(self, samples: int) -> tuple[float, float] | None:
        self.flush()
        worker = node(self.lib, "work", self.url, 10**9)
        try:
            result = report(node(self.lib, "roundtrip", self.url, samples))
            return float(result["p50"]), float(result["p99"])
        finally:
            stop(worker)
            self.flush()


class BullMQ(NodePeer):
    name = "BullMQ"
    lib = "bullmq"


class BeeQueue(NodePeer):
    name = "bee-queue"
    lib = "bee-queue"


NODE_PEERS: dict[str, type[Peer]] = {"bullmq": BullMQ, "bee-queue": BeeQueue}
