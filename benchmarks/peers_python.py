"""The Python peers of ``benchmarks/peers.py``: their task bodies and drivers.

Imported by the harness and, as ``benchmarks.peers_python``, by each peer's own
worker CLI (so the task names match). Each library is optional (the ``bench``
extra installs them): a peer whose library is missing is reported as such.

How each peer's finish times are read (worker start-up excluded):

* rq: each job hash's ``ended_at``; celery: each result's ``date_done``;
  saq: each job's ``completed``; arq: each result's ``finish_time``;
* huey, taskiq, dramatiq keep no finish time: the task *returns* ``time.time()``
  and the harness reads it from the library's result store.

"Best config" per peer (the setting its docs offer for throughput, within the 2
cores of this machine class): rq ``SimpleWorker`` (no fork per job); huey 2
worker processes; arq ``max_jobs`` 100; taskiq 2 worker processes; dramatiq 2
processes (8 threads each, its default); saq concurrency 50; celery 2 prefork
processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from datetime import datetime
from typing import Any

from benchmarks.peers_base import BIN, WARMUP, Peer, quiet

URL = os.environ.get("PEERS_REDIS_URL", "redis://127.0.0.1:6379/15")
BEST = os.environ.get("PEERS_BEST") == "1"


def now() -> float:
    return time.time()


# ---- rq -----------------------------------------------------------------------------


def rq_noop(item: object) -> None:
    return None


class Rq(Peer):
    name = "rq"
    bulk_api = True
    best_how = "SimpleWorker (no fork per job)"

    def queue(self) -> Any:
        from rq import Queue

        return Queue("default", connection=self.client)

    def enqueue(self) -> float:
        queue = self.queue()
        start = time.perf_counter()
        self.ids = [queue.enqueue(rq_noop, {"i": i}).id for i in range(self.n)]
        return self.rate(start)

    def bulk(self) -> float:
        from rq import Queue

        queue = self.queue()
        start = time.perf_counter()
        jobs = queue.enqueue_many([Queue.prepare_data(rq_noop, ({"i": i},)) for i in range(self.n)])
        rate = self.rate(start)
        self.ids = [job.id for job in jobs]
        return rate

    def start_worker(self, best: bool) -> Any:
        cmd = [str(BIN / "rq"), "worker", "--burst", "--url", self.url]
        if best:
            cmd += ["--worker-class", "rq.worker.SimpleWorker"]
        return quiet([*cmd, "default"], self.url)

    def done(self) -> int:
        return int(self.client.zcard("rq:finished:default"))

    def finish_times(self) -> list[float]:
        from rq.utils import str_to_date

        pipe = self.client.pipeline(transaction=False)
        for job_id in self.ids:
            pipe.hget(f"rq:job:{job_id}", "ended_at")
        return [str_to_date(v).timestamp() for v in pipe.execute() if v]


# ---- huey ---------------------------------------------------------------------------

#: Peers whose library cannot be imported here -> why (peers.py stops before the run).
MISSING: dict[str, str] = {}

try:
    from huey import RedisHuey

    huey_app = RedisHuey("bench-peers", url=URL)

    @huey_app.task()
    def huey_noop(item: object) -> float:
        return now()

except ImportError as _exc:
    MISSING["huey"] = str(_exc)


class Huey(Peer):
    name = "huey"
    best_how = "2 worker processes (-k process -w 2)"
    roundtrip_api = True

    def enqueue(self) -> float:
        huey_app.storage.conn = self.client
        start = time.perf_counter()
        self.ids = [huey_noop({"i": i}).id for i in range(self.n)]
        return self.rate(start)

    def start_worker(self, best: bool) -> Any:
        cmd = [str(BIN / "huey_consumer"), "benchmarks.peers_python.huey_app"]
        return quiet(cmd + (["-k", "process", "-w", "2"] if best else []), self.url)

    def done(self) -> int:
        return int(self.client.hlen(huey_app.storage.result_key))

    def finish_times(self) -> list[float]:
        values = self.client.hmget(huey_app.storage.result_key, self.ids)
        return [float(huey_app.serializer.deserialize(v)) for v in values if v is not None]

    def roundtrip_once(self, i: int) -> None:
        huey_noop({"i": i}).get(blocking=True, timeout=30)


# ---- arq ----------------------------------------------------------------------------


async def arq_noop(ctx: dict[str, Any], item: object) -> None:
    return None


class ArqSettings:
    functions = [arq_noop]
    burst = os.environ.get("PEERS_BURST", "1") == "1"
    max_jobs = 100 if BEST else 10


try:
    from arq.connections import RedisSettings as _RedisSettings

    ArqSettings.redis_settings = _RedisSettings.from_dsn(URL)  # type: ignore[attr-defined]
except ImportError as _exc:
    MISSING["arq"] = str(_exc)


class Arq(Peer):
    name = "arq"
    best_how = "max_jobs 100"
    roundtrip_api = True

    def enqueue(self) -> float:
        async def go() -> float:
            pool = await self.arq_pool()
            try:
                start = time.perf_counter()
                ids = []
                for i in range(self.n):
                    job = await pool.enqueue_job("arq_noop", {"i": i})
                    ids.append(job.job_id)
                self.ids = ids
                return self.rate(start)
            finally:
                await pool.aclose()

        return asyncio.run(go())

    async def arq_pool(self) -> Any:
        from arq import create_pool
        from arq.connections import RedisSettings

        return await create_pool(RedisSettings.from_dsn(self.url))

    def start_worker(self, best: bool) -> Any:
        return quiet([str(BIN / "arq"), "benchmarks.peers_python.ArqSettings"], self.url, best)

    def done(self) -> int:
        return self.n - int(self.client.zcard("arq:queue"))

    def finish_times(self) -> list[float]:
        from arq.jobs import deserialize_result

        values = self.client.mget([f"arq:result:{job_id}" for job_id in self.ids])
        return [deserialize_result(v).finish_time.timestamp() for v in values if v is not None]

    def roundtrips(self, samples: int) -> list[float]:
        async def go() -> list[float]:
            pool = await self.arq_pool()
            try:
                times = []
                for i in self.trips(samples):
                    if self.trips_over():
                        break
                    start = time.perf_counter()
                    job = await pool.enqueue_job("arq_noop", {"i": i})
                    # poll its result key (job.result() can miss a job between states)
                    while await job.result_info() is None:  # noqa: ASYNC110
                        await asyncio.sleep(0.0005)
                    times.append((time.perf_counter() - start) * 1000)
                return times[WARMUP:]
            finally:
                await pool.aclose()

        return asyncio.run(go())


# ---- taskiq + taskiq-redis ----------------------------------------------------------

try:
    from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend

    taskiq_backend: Any = RedisAsyncResultBackend(redis_url=URL)
    taskiq_broker = ListQueueBroker(url=URL).with_result_backend(taskiq_backend)

    @taskiq_broker.task
    async def taskiq_noop(item: object) -> float:
        return now()

except ImportError as _exc:
    MISSING["taskiq"] = str(_exc)


class Taskiq(Peer):
    name = "taskiq"
    best_how = "2 worker processes (--workers 2)"
    roundtrip_api = True

    def enqueue(self) -> float:
        async def go() -> float:
            await taskiq_broker.startup()
            try:
                start = time.perf_counter()
                self.ids = [(await taskiq_noop.kiq({"i": i})).task_id for i in range(self.n)]
                return self.rate(start)
            finally:
                await taskiq_broker.shutdown()

        return asyncio.run(go())

    def start_worker(self, best: bool) -> Any:
        cmd = [str(BIN / "taskiq"), "worker", "benchmarks.peers_python:taskiq_broker"]
        return quiet([*cmd, "--workers", "2" if best else "1"], self.url)

    def done(self) -> int:
        return self.keys_added()

    def finish_times(self) -> list[float]:
        async def go() -> list[float]:
            # a backend of this event loop's own (the broker's is bound to another)
            backend = RedisAsyncResultBackend(redis_url=self.url)
            try:
                times = []
                for task_id in self.ids:
                    if await backend.is_result_ready(task_id):
                        times.append(float((await backend.get_result(task_id)).return_value))
                return times
            finally:
                await backend.shutdown()

        return asyncio.run(go())

    def roundtrips(self, samples: int) -> list[float]:
        async def go() -> list[float]:
            await taskiq_broker.startup()
            try:
                times = []
                for i in self.trips(samples):
                    if self.trips_over():
                        break
                    start = time.perf_counter()
                    task = await taskiq_noop.kiq({"i": i})
                    await task.wait_result(check_interval=0.0005, timeout=30)
                    times.append((time.perf_counter() - start) * 1000)
                return times[WARMUP:]
            finally:
                await taskiq_broker.shutdown()

        return asyncio.run(go())


# ---- dramatiq -----------------------------------------------------------------------

try:
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker as _DramatiqBroker
    from dramatiq.results import Results
    from dramatiq.results.backends import RedisBackend as _DramatiqResults

    dramatiq_results = _DramatiqResults(url=URL)
    dramatiq_broker = _DramatiqBroker(url=URL)
    dramatiq_broker.add_middleware(Results(backend=dramatiq_results))
    dramatiq.set_broker(dramatiq_broker)

    @dramatiq.actor(store_results=True, max_retries=0)
    def dramatiq_noop(item: object) -> float:
        return now()

except ImportError as _exc:
    MISSING["dramatiq"] = str(_exc)


class Dramatiq(Peer):
    name = "dramatiq"
    best_how = "2 processes x 8 threads"
    roundtrip_api = True

    def enqueue(self) -> float:
        start = time.perf_counter()
        self.messages = [dramatiq_noop.send({"i": i}) for i in range(self.n)]
        return self.rate(start)

    def start_worker(self, best: bool) -> Any:
        cmd = [str(BIN / "dramatiq"), "benchmarks.peers_python:dramatiq_broker"]
        return quiet([*cmd, "--processes", "2" if best else "1"], self.url)

    def done(self) -> int:
        return self.keys_added()

    def finish_times(self) -> list[float]:
        from dramatiq.results import ResultMissing

        times = []
        for message in self.messages:
            with contextlib.suppress(ResultMissing):
                times.append(float(dramatiq_results.get_result(message)))
        return times

    def roundtrip_once(self, i: int) -> None:
        dramatiq_noop.send({"i": i}).get_result(block=True, timeout=30_000)


# ---- saq ----------------------------------------------------------------------------


async def saq_noop(ctx: dict[str, Any], *, item: object) -> None:
    return None


def _saq_queue() -> Any:
    from saq import Queue

    return Queue.from_url(URL)


with contextlib.suppress(ImportError):
    saq_settings = {
        "queue": _saq_queue(),
        "functions": [saq_noop],
        "concurrency": 50 if BEST else 10,
    }


class Saq(Peer):
    name = "saq"
    best_how = "concurrency 50"
    roundtrip_api = True

    def enqueue(self) -> float:
        from saq import Queue

        async def go() -> float:
            queue = Queue.from_url(self.url)
            await queue.connect()
            try:
                start = time.perf_counter()
                self.ids = [
                    (await queue.enqueue("saq_noop", item={"i": i})).key for i in range(self.n)
                ]
                return self.rate(start)
            finally:
                await queue.disconnect()

        return asyncio.run(go())

    def start_worker(self, best: bool) -> Any:
        cmd = [str(BIN / "saq"), "benchmarks.peers_python.saq_settings"]
        return quiet(cmd, self.url, best)

    def done(self) -> int:
        from saq import Queue

        async def go() -> int:
            queue = Queue.from_url(self.url)
            try:
                return self.n - int(await queue.count("incomplete"))
            finally:
                await queue.disconnect()

        return asyncio.run(go())

    def finish_times(self) -> list[float]:
        from saq import Queue

        async def go() -> list[float]:
            queue = Queue.from_url(self.url)
            try:
                jobs = await queue.jobs(self.ids)
                return [job.completed / 1000 for job in jobs if job and job.completed]
            finally:
                await queue.disconnect()

        return asyncio.run(go())

    def roundtrips(self, samples: int) -> list[float]:
        from saq import Queue

        async def go() -> list[float]:
            queue = Queue.from_url(self.url)
            await queue.connect()
            try:
                times = []
                for i in self.trips(samples):
                    if self.trips_over():
                        break
                    start = time.perf_counter()
                    await queue.apply("saq_noop", item={"i": i}, timeout=30)
                    times.append((time.perf_counter() - start) * 1000)
                return times[WARMUP:]
            finally:
                await queue.disconnect()

        return asyncio.run(go())


# ---- celery -------------------------------------------------------------------------

try:
    from celery import Celery

    celery_app = Celery("bench_peers", broker=URL, backend=URL)

    @celery_app.task(name="celery_noop")
    def celery_noop(item: object) -> None:
        return None

except ImportError as _exc:
    MISSING["celery"] = str(_exc)


class CeleryPeer(Peer):
    name = "celery"
    best_how = "2 prefork processes (-c 2)"
    roundtrip_api = True

    def enqueue(self) -> float:
        start = time.perf_counter()
        self.ids = [celery_noop.delay({"i": i}).id for i in range(self.n)]
        return self.rate(start)

    def start_worker(self, best: bool) -> Any:
        cmd = [str(BIN / "celery"), "-A", "benchmarks.peers_python:celery_app", "worker"]
        return quiet([*cmd, "-c", "2" if best else "1", "--without-mingle"], self.url)

    def done(self) -> int:
        return self.keys_added()

    def finish_times(self) -> list[float]:
        values = self.client.mget([f"celery-task-meta-{job_id}" for job_id in self.ids])
        return [
            datetime.fromisoformat(json.loads(v)["date_done"]).timestamp()
            for v in values
            if v is not None
        ]

    def roundtrip_once(self, i: int) -> None:
        celery_noop.delay({"i": i}).get(timeout=30, interval=0.0005)


PYTHON_PEERS: dict[str, type[Peer]] = {
    "taskiq": Taskiq,
    "dramatiq": Dramatiq,
    "saq": Saq,
    "arq": Arq,
    "rq": Rq,
    "huey": Huey,
    "celery": CeleryPeer,
}
