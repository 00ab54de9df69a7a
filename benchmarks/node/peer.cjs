// The Node peers of benchmarks/peers.py (BullMQ, bee-queue), driven one step per process.
//
//   node peer.cjs <lib> <mode> <redis-url> <n> [concurrency]
//
// lib: bullmq | bee-queue. mode:
//   enqueue    n jobs {i}, one awaited call at a time      -> {"rate", "cpu_us"}
//   bulk       n jobs in the library's bulk call            -> {"rate"}
//   work       a worker (concurrency c, default: the library's own, 1) that exits
//              after n completions                          -> {"first", "last", "done"} (ms)
//   roundtrip  n sequential publish -> completion round trips against a running
//              `work` process (first 20 are warm-up)       -> {"p50", "p99"} (ms)
//
// Written for this harness from the libraries' documented APIs. The packages come
// from npm into a scratch folder (peers.py: NODE_PATH=/tmp/peers-node/node_modules).
"use strict";

const [lib, mode, url, nText, cText] = process.argv.slice(2);
const n = Number(nText);
const concurrency = cText ? Number(cText) : 1;
const QUEUE = "bench";

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function redisOptions() {
  const u = new URL(url);
  return {
    host: u.hostname || "127.0.0.1",
    port: Number(u.port || 6379),
    db: Number((u.pathname || "/0").slice(1) || 0),
  };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function timed(fn) {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return { rate: n / seconds, cpu_us: (used.user + used.system) / n };
}

async function bullmq() {
  const { Queue, Worker, QueueEvents } = require("bullmq");
  // Connection options (not a client): BullMQ makes its own ioredis connections.
  const connection = () => ({ ...redisOptions(), maxRetriesPerRequest: null });
  if (mode === "enqueue" || mode === "bulk") {
    const queue = new Queue(QUEUE, { connection: connection() });
    await queue.waitUntilReady();
    const result = await timed(async () => {
      if (mode === "enqueue") {
        for (let i = 0; i < n; i++) await queue.add("noop", { i });
      } else {
        const jobs = [];
        for (let i = 0; i < n; i++) jobs.push({ name: "noop", data: { i } });
        await queue.addBulk(jobs);
      }
    });
    out(result);
    await queue.close();
  } else if (mode === "work") {
    await work((onDone) => {
      const worker = new Worker(QUEUE, async () => null, { connection: connection(), concurrency });
      worker.on("completed", onDone);
      return () => worker.close();
    });
  } else if (mode === "roundtrip") {
    const queue = new Queue(QUEUE, { connection: connection() });
    const events = new QueueEvents(QUEUE, { connection: connection() });
    await events.waitUntilReady();
    await roundtrips(async (i) => {
      const job = await queue.add("noop", { i });
      await job.waitUntilFinished(events);
    });
    await events.close();
    await queue.close();
  }
}

async function beeQueue() {
  const Queue = require("bee-queue");
  if (mode === "enqueue" || mode === "bulk") {
    const queue = new Queue(QUEUE, { redis: redisOptions(), isWorker: false, getEvents: false });
    await queue.ready();
    const result = await timed(async () => {
      if (mode === "enqueue") {
        for (let i = 0; i < n; i++) await queue.createJob({ i }).save();
      } else {
        const jobs = [];
        for (let i = 0; i < n; i++) jobs.push(queue.createJob({ i }));
        await queue.saveAll(jobs);
      }
    });
    out(result);
    await queue.close();
  } else if (mode === "work") {
    await work((onDone) => {
      const queue = new Queue(QUEUE, { redis: redisOptions() });
      queue.on("succeeded", onDone);
      queue.process(concurrency, async () => null);
      return () => queue.close();
    });
  } else if (mode === "roundtrip") {
    // The queue-wide event, not job.on(): a fast worker can finish a job before
    // save() resolves, and the job's own listener would miss it.
    const queue = new Queue(QUEUE, { redis: redisOptions(), isWorker: false });
    await queue.ready();
    const finished = new Set();
    let waiting = null;
    queue.on("job succeeded", (id) => {
      if (waiting && waiting.id === id) waiting.resolve();
      else finished.add(id);
    });
    await roundtrips(async (i) => {
      const job = await queue.createJob({ i }).save();
      if (finished.delete(job.id)) return;
      await new Promise((resolve) => {
        waiting = { id: job.id, resolve };
      });
    });
    await queue.close();
  }
}

// A worker that counts its completions and exits after n (first/last finish, ms).
function work(start) {
  return new Promise((resolve) => {
    let first = 0;
    let last = 0;
    let done = 0;
    let stop = null;
    const finish = async () => {
      out({ first, last, done });
      if (stop) await stop();
      resolve();
    };
    stop = start(() => {
      const now = Date.now();
      if (done === 0) first = now;
      last = now;
      done += 1;
      if (done === n) finish();
    });
    process.on("SIGINT", finish);
    process.on("SIGTERM", finish);
  });
}

async function roundtrips(once) {
  const times = [];
  const deadline = Date.now() + 20000; // as peers_base.Peer.trip_budget
  for (let i = 0; i < n + 20 && Date.now() < deadline; i++) {
    const start = process.hrtime.bigint();
    await once(i);
    if (i >= 20) times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  if (times.length === 0) times.push(NaN);
  times.sort((a, b) => a - b);
  out({ p50: percentile(times, 0.5), p99: percentile(times, 0.99), samples: times.length });
}

const drivers = { bullmq, "bee-queue": beeQueue };
drivers[lib]()
  .then(() => process.exit(0))
  .catch((err) => {
    process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
    process.exit(1);
  });
