'use strict';
// The load generator behind `baatcheet bench` (baatcheet.loadtest runs one or several of
// these processes and merges what they print). One scenario per run, one JSON object on
// stdout; on stderr, log lines, one `@progress {json}` line a second (what the progress
// bar and the throughput plot show) and `@event {json}` lines at the steps a parent waits
// for. Scenarios that several processes share (idle, storm) also wait for commands on
// stdin ("go", "restart", "stop"), so the parent can start them together and measure the
// server between steps.
//
//   node loadgen.js fanout --url ws://127.0.0.1:PORT [--pid SERVER_PID] [options]
//   node loadgen.js idle   --url ws://127.0.0.1:PORT [--clients 5000] [--nsp /chat
//                          --tokens-file FILE --first-index K]
//   node loadgen.js chat   --url ws://127.0.0.1:PORT --server node|baatcheet [options]
//   node loadgen.js rooms  --url URL_A,URL_B --pid PID_A,PID_B --rooms 100 --per-room 10
//                          --publish-rate 2000 [--placement split|first] [--idle-clients N]
//   node loadgen.js storm  --url ws://127.0.0.1:PORT --clients N --restart-clients K
//                          [--concurrency 100] [--rejoin-secs 120]
//   (any scenario) --aux-pid PID[,PID]: helper processes (redis-server), measured apart
//
// Without --pid (a server the tool did not start), server CPU figures are null.
//
// fanout and rooms take several servers (a cluster): comma-separated --url and --pid, in the
// same order. Fan-out clients are dealt to the servers in turn (client 0, the publisher, on
// the first); server CPU is summed over every --pid and also reported per server.
//
// Every loop is bounded by a count and every wait by a deadline; the whole run is
// killed by a watchdog (--deadline seconds) so a wedged server cannot hang the bench.

const readline = require('node:readline');
const { parseArgs } = require('node:util');
const fs = require('node:fs');
const { performance } = require('node:perf_hooks');
const {
  SioClient,
  connectMany,
  Histogram,
  cpuSeconds,
  busyCoreSeconds,
  nowUs,
  readUint,
  sleep,
} = require('./eio_client');

const log = (msg) => process.stderr.write(`[loadgen] ${msg}\n`);
const round = (x, d = 2) => (x === null || x === undefined ? null : Number(x.toFixed(d)));
const rates = (s) => (s === 'none' ? [] : s.split(',').filter(Boolean).map(Number));

const { positionals, values: opt } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: 'ws://127.0.0.1:3000' },
    pid: { type: 'string' },
    server: { type: 'string', default: 'node' },
    clients: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '50' },
    'frame-bytes': { type: 'string', default: '100' },
    'fixed-rate': { type: 'string' },
    'fixed-secs': { type: 'string', default: '10' },
    'warmup-secs': { type: 'string', default: '2' },
    ramp: { type: 'string' },
    'step-secs': { type: 'string', default: '4' },
    'p99-limit-ms': { type: 'string', default: '200' },
    'drain-ms': { type: 'string', default: '2000' },
    'settle-secs': { type: 'string', default: '3' },
    rooms: { type: 'string', default: '100' },
    'per-room': { type: 'string', default: '10' },
    users: { type: 'string' },
    db: { type: 'string' },
    table: { type: 'string', default: 'messages' },
    deadline: { type: 'string', default: '600' },
    'quiet-secs': { type: 'string', default: '15' },
    receipts: { type: 'boolean', default: false },
    'publish-rate': { type: 'string', default: '2000' },
    placement: { type: 'string', default: 'split' },
    'idle-clients': { type: 'string', default: '0' },
    'aux-pid': { type: 'string', default: '' },
    nsp: { type: 'string', default: '/' },
    'tokens-file': { type: 'string' },
    'first-index': { type: 'string', default: '0' },
    'restart-clients': { type: 'string', default: '0' },
    concurrency: { type: 'string', default: '100' },
    'rejoin-secs': { type: 'string', default: '120' },
    'connect-retries': { type: 'string', default: '3' },
  },
});

const scenario = positionals[0];
const pids = String(opt.pid || '').split(',').filter(Boolean).map(Number);
const pid = pids[0];
const urls = opt.url.split(',');
// Helper processes of the run (the cluster's redis-server): their CPU is reported apart and
// not counted as other processes' noise.
const auxPids = opt['aux-pid'].split(',').filter(Boolean).map(Number);
if (!['fanout', 'idle', 'chat', 'rooms', 'storm'].includes(scenario) || !pids.every(Number.isInteger)) {
  log('usage: node loadgen.js fanout|idle|chat|rooms|storm --url ws://127.0.0.1:PORT [--pid SERVER_PID]');
  process.exit(64);
}
const watchdog = setTimeout(() => {
  log(`deadline of ${opt.deadline} s passed; giving up`);
  process.exit(3);
}, Number(opt.deadline) * 1000);
watchdog.unref();

const P99_LIMIT_MS = Number(opt['p99-limit-ms']);
const DRAIN_MS = Number(opt['drain-ms']);
const GENERATOR_BOUND = 0.95;
// Storm and idle clients connect far more than they exchange: their clients use the raw
// transport (cheap handshakes, see raw_websocket.js); the other scenarios keep `ws`.
const CONNECT_TRANSPORT = 'raw';

/** One line for the parent: `@progress` once a second, `@event` at a step it waits for. */
const emitLine = (kind, fields) => process.stderr.write(`@${kind} ${JSON.stringify(fields)}\n`);

/** Calls `sample()` once a second and prints what it returns as a `@progress` line. */
function ticker(sample) {
  const timer = setInterval(() => emitLine('progress', { t_ms: Date.now(), ...sample() }), 1000);
  timer.unref();
  return timer;
}

// Commands from the parent, one word a line on stdin; `command(word)` resolves when it comes.
const received = new Set();
const waiters = new Map();
let stdinReader = null;
function command(word) {
  if (stdinReader === null) {
    stdinReader = readline.createInterface({ input: process.stdin });
    stdinReader.on('line', (line) => {
      const w = line.trim();
      received.add(w);
      const resolve = waiters.get(w);
      if (resolve) resolve();
    });
  }
  if (received.has(word)) return Promise.resolve();
  return new Promise((resolve) => waiters.set(word, resolve));
}

/** Waits until `done()` is true or `ms` passed; returns whether it became true. */
async function waitFor(done, ms) {
  const end = performance.now() + ms;
  while (!done()) {
    if (performance.now() > end) return false;
    await sleep(5);
  }
  return true;
}

/**
 * Calls `send()` `perSec` times a second for `secs` seconds on a 1 ms timer, catching
 * up when the timer fires late. Resolves with the count sent and the wall time taken.
 */
function paced(perSec, secs, send) {
  const total = Math.round(perSec * secs);
  return new Promise((resolve) => {
    const t0 = performance.now();
    let sent = 0;
    const tick = () => {
      const due = Math.min(total, Math.floor((perSec * (performance.now() - t0)) / 1000));
      while (sent < due) {
        send(sent);
        sent += 1;
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve({ sent, wallS: (performance.now() - t0) / 1000 });
      }
    };
    const timer = setInterval(tick, 1);
  });
}

/** CPU seconds of every server process (the --pid list), in order. */
const serverCpuEach = () => pids.map((p) => {
  try {
    return cpuSeconds(p);
  } catch {
    return 0; // the process ended (killed by the parent, or crashed)
  }
});
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const auxCpu = () => sum(auxPids.map(cpuSeconds));

/**
 * Runs `body` while measuring the servers' CPU seconds (summed, and each), this process's
 * share of a core, and the share of a core that other processes on the machine took
 * meanwhile.
 */
async function measured(body) {
  const cpu0 = serverCpuEach();
  const aux0 = auxCpu();
  const busy0 = busyCoreSeconds();
  const gen0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await body();
  const wallS = (performance.now() - t0) / 1000;
  const gen = process.cpuUsage(gen0);
  const eachS = serverCpuEach().map((c, i) => c - cpu0[i]);
  const serverCpuS = sum(eachS);
  const auxS = auxCpu() - aux0;
  const genCpuS = (gen.user + gen.system) / 1e6;
  return {
    result,
    wallS,
    serverCpuS,
    eachS,
    auxS,
    genCore: genCpuS / wallS,
    foreignCore: Math.max(0, busyCoreSeconds() - busy0 - serverCpuS - auxS - genCpuS) / wallS,
  };
}

/**
 * Waits (at most --quiet-secs) for a second in which other processes use < 0.3 core, since
 * the machine may be shared; returns the load seen last so the report can flag noisy runs.
 */
async function waitForQuiet() {
  const deadline = performance.now() + Number(opt['quiet-secs']) * 1000;
  let load = 0;
  do {
    const busy0 = busyCoreSeconds();
    const own = () => sum(serverCpuEach()) + auxCpu() + cpuSeconds(process.pid);
    const own0 = own();
    await sleep(1000);
    load = Math.max(0, busyCoreSeconds() - busy0 - (own() - own0));
    if (load < 0.3) return round(load, 3);
    log(`machine busy (${round(load, 2)} core used by other processes); waiting`);
  } while (performance.now() < deadline);
  return round(load, 3);
}

// ---------------------------------------------------------------- fan-out

/**
 * Counts and times the deliveries of published `{"t":<µs>, ...}` events, for fanout and rooms.
 * `onEvent` is the clients' event callback: one indexOf and a digit loop per delivery, no
 * allocation, and the counts stay closure variables so the hot path is what it was when each
 * scenario had its own copy. A delivery stamped before the current step began (an earlier
 * step that never drained) is counted as stale, apart, so it cannot hide a loss in this step.
 * `startStep()` resets the histogram and moves that boundary to now.
 */
function deliveryCounter() {
  const hist = new Histogram();
  let delivered = 0;
  let stale = 0;
  let stepStartUs = 0;
  const needle = Buffer.from('"t":');
  const onEvent = (buf, off, end) => {
    const i = buf.indexOf(needle, off);
    if (i < 0 || i >= end) return;
    const v = readUint(buf, i + 4, end); // 4: the needle's length
    if (v < stepStartUs) {
      stale += 1;
      return;
    }
    delivered += 1;
    hist.record(nowUs() - v);
  };
  return {
    onEvent,
    hist,
    get delivered() {
      return delivered;
    },
    get stale() {
      return stale;
    },
    startStep() {
      hist.reset();
      stepStartUs = nowUs();
    },
  };
}

async function runFanout() {
  const n = Number(opt.clients);
  const counter = deliveryCounter();
  const { onEvent, hist } = counter;

  log(`connecting ${n} clients to ${opt.url}`);
  const clients = await connectMany(n, Number(opt.batch), (i) => new SioClient(urls[i % urls.length], { onEvent }), log);
  const publisher = clients[0];
  // Size the pad so the frame each receiver gets, 42["message",{"t":<us>,"pad":"…"}], is ~frame-bytes.
  const overhead = `42["message",{"t":${nowUs()},"pad":""}]`.length;
  const pad = 'x'.repeat(Math.max(0, Number(opt['frame-bytes']) - overhead));
  const frameBytes = overhead + pad.length;
  const publish = () => publisher.emitRaw(`["publish",{"t":${nowUs()},"pad":"${pad}"}]`);

  let totalExpected = 0;

  /** One phase at `rate` deliveries/s; waits (bounded) for it to drain before returning. */
  async function step(rate, secs) {
    counter.startStep();
    const d0 = counter.delivered;
    const stale0 = counter.stale;
    let sent = 0;
    const m = await measured(async () => {
      const r = await paced(rate / n, secs, publish);
      sent = r.sent;
      await waitFor(() => counter.delivered - d0 >= sent * n, DRAIN_MS);
      return r;
    });
    const got = counter.delivered - d0;
    const expected = sent * n;
    totalExpected += expected;
    return {
      target_per_s: rate,
      secs,
      publishes: sent,
      expected,
      delivered: got,
      undelivered_after_drain: expected - got,
      late_from_earlier_steps: counter.stale - stale0,
      deliveries_per_s: Math.round(got / m.result.wallS),
      ...roundSummary(hist.summary()),
      server_cpu_s: round(m.serverCpuS, 3),
      server_cpu_s_each: m.eachS.map((c) => round(c, 3)),
      server_cpu_us_per_publish_each: m.eachS.map((c) => (sent > 0 ? round((c * 1e6) / sent, 1) : null)),
      aux_cpu_s: auxPids.length ? round(m.auxS, 3) : null,
      deliveries_per_server_cpu_s: m.serverCpuS > 0 ? Math.round(got / m.serverCpuS) : null,
      generator_core_share: round(m.genCore, 3),
      foreign_core_share: round(m.foreignCore, 3),
    };
  }

  let phase = 'quiet';
  let lastDelivered = 0;
  ticker(() => {
    const { delivered } = counter;
    const rate = delivered - lastDelivered;
    lastDelivered = delivered;
    return { phase, rate, unit: 'deliveries/s', p50_ms: hist.percentileMs(50), p90_ms: hist.percentileMs(90), p99_ms: hist.percentileMs(99) };
  });
  const fixedRate = Number(opt['fixed-rate'] || 50000);
  const quietBefore = await waitForQuiet();
  phase = 'warm-up';
  log(`warm-up ${opt['warmup-secs']} s at ${fixedRate}/s`);
  await step(fixedRate, Number(opt['warmup-secs']));
  log(`fixed ${opt['fixed-secs']} s at ${fixedRate} deliveries/s`);
  phase = 'fixed';
  const fixed = await step(fixedRate, Number(opt['fixed-secs']));
  fixed.histogram = hist.export();
  log(`  p50 ${fixed.p50_ms} ms p99 ${fixed.p99_ms} ms, ${fixed.deliveries_per_server_cpu_s} deliveries/server-CPU-s, undelivered ${fixed.undelivered_after_drain}, other load ${fixed.foreign_core_share} core`);

  // An overloaded fixed phase leaves a backlog; let it clear (≤ 30 s) so the ramp starts clean.
  await waitFor(() => counter.delivered + counter.stale >= totalExpected, 30_000);
  const ramp = [];
  let best = null;
  let generatorBound = false;
  for (const rate of rates(opt.ramp || '20000,40000,60000,80000,100000,120000,150000,200000')) {
    phase = `ramp ${rate}/s`;
    const s = await step(rate, Number(opt['step-secs']));
    s.ok = s.undelivered_after_drain === 0 && s.p99_ms !== null && s.p99_ms < P99_LIMIT_MS;
    // A generator using a whole core measures itself, not the server: stop and say so.
    s.generator_bound = s.generator_core_share >= GENERATOR_BOUND;
    ramp.push(s);
    if (s.generator_bound) {
      if (s.ok) best = s;
      generatorBound = true;
      log(`  ramp ${rate}/s: generator used ${s.generator_core_share} core → stop (generator-bound)`);
      break;
    }
    log(`  ramp ${rate}/s: got ${s.deliveries_per_s}/s p99 ${s.p99_ms} ms late ${s.undelivered_after_drain} gen ${s.generator_core_share} other ${s.foreign_core_share} → ${s.ok ? 'ok' : 'stop'}`);
    if (!s.ok) break;
    best = s;
  }
  // Anything still missing after a last 10 s grace period was lost, not just late.
  await waitFor(() => counter.delivered + counter.stale >= totalExpected, 10_000);
  for (const c of clients) c.close();
  return {
    scenario: 'fanout',
    ramp_stopped_by_generator: generatorBound,
    lost_whole_run: totalExpected - counter.delivered - counter.stale,
    clients: n,
    other_load_before: quietBefore,
    frame_bytes: frameBytes,
    fixed,
    ramp,
    max_deliveries_per_s: best ? best.deliveries_per_s : 0,
    max_target_per_s: best ? best.target_per_s : 0,
    ramp_capped: best !== null && best === ramp[ramp.length - 1],
    generator_core_share_max: Math.max(fixed.generator_core_share, ...ramp.map((s) => s.generator_core_share)),
  };
}

function roundSummary(s) {
  return { count: s.count, p50_ms: round(s.p50_ms), p90_ms: round(s.p90_ms), p99_ms: round(s.p99_ms), max_ms: round(s.max_ms) };
}

// ---------------------------------------------------------------- connection windows

/**
 * Opens `count` clients with at most --concurrency handshakes in flight (a window, not
 * waves: a slow handshake does not hold the others back), retrying a failed one up to
 * --connect-retries times. `onConnected(client, latencyUs)` runs for each success.
 */
async function connectWindow(count, make, onConnected) {
  const clients = new Array(count);
  const retries = Number(opt['connect-retries']);
  let next = 0;
  let failures = 0;
  async function worker() {
    while (next < count) {
      const i = next;
      next += 1;
      for (let attempt = 0; attempt <= retries; attempt += 1) {
        const client = make(i);
        const t0 = nowUs();
        try {
          await client.connect();
          onConnected(client, nowUs() - t0);
          clients[i] = client;
          break;
        } catch {
          failures += 1;
          if (attempt < retries) await sleep(100 * (attempt + 1));
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(count, Number(opt.concurrency)) }, worker));
  return { clients: clients.filter(Boolean), failures };
}

/**
 * The source address of client `i`: on a loopback target, one of 64 addresses of
 * 127.0.0.0/8 in turn. Linux picks a free ephemeral port per source address, and past
 * about 10,000 connections from one address each connect() searches the half-used port
 * range (measured: the connect rate fell from ~1,000/s to ~150/s for Node and Baatcheet
 * alike); 64 addresses keep each pool small. Undefined (the system's choice) elsewhere.
 */
function sourceAddress() {
  const host = new URL(opt.url.split(',')[0]).hostname;
  if (!/^127\.\d+\.\d+\.\d+$/.test(host)) return () => undefined;
  const first = Number(opt['first-index']);
  return (i) => `127.0.0.${2 + ((first + i) % 64)}`;
}

/** The handshake auth of client `i`: a token from --tokens-file (dealt in turn), or none. */
function authMaker() {
  if (!opt['tokens-file']) return () => undefined;
  const tokens = JSON.parse(fs.readFileSync(opt['tokens-file'], 'utf8'));
  const first = Number(opt['first-index']);
  return (i) => ({ token: tokens[(first + i) % tokens.length] });
}

// ---------------------------------------------------------------- idle connections

/**
 * Opens --clients connections to --nsp after "go", says `connected`, and holds them, doing
 * nothing but answering pings, until "stop"; the parent measures the server meanwhile.
 */
async function runIdle() {
  const n = Number(opt.clients);
  const auth = authMaker();
  const source = sourceAddress();
  let phase = 'ready';
  let connected = 0;
  let last = 0;
  ticker(() => {
    const rate = connected - last;
    last = connected;
    return { phase, rate, unit: 'connects/s', connections: connected };
  });
  emitLine('event', { event: 'ready' });
  await command('go');
  phase = 'connecting';
  log(`connecting ${n} idle clients to ${opt.url}${opt.nsp}`);
  const { clients, failures } = await connectWindow(
    n,
    (i) => new SioClient(opt.url, { nsp: opt.nsp, auth: auth(i), localAddress: source(i), transport: CONNECT_TRANSPORT }),
    () => {
      connected += 1;
    },
  );
  phase = 'idle';
  emitLine('event', { event: 'connected', connections: clients.length, failures });
  await command('stop');
  const alive = clients.filter((c) => c.connected).length;
  for (const c of clients) c.close();
  return {
    scenario: 'idle',
    transport: CONNECT_TRANSPORT,
    nsp: opt.nsp,
    clients: n,
    connected: clients.length,
    connect_failures: failures,
    still_connected: alive,
  };
}

// ---------------------------------------------------------------- connection storm

/**
 * The official client's reconnection delay before attempt `attempt` (0-based):
 * reconnectionDelay 1000 ms doubled per attempt, capped at 5000 ms, moved up or down by
 * up to randomizationFactor 0.5 of itself.
 */
function backoffMs(attempt) {
  const base = Math.min(1000 * 2 ** Math.min(attempt, 16), 5000);
  const rand = Math.random();
  const deviation = Math.floor(rand * 0.5 * base);
  const ms = (Math.floor(rand * 10) & 1) === 0 ? base - deviation : base + deviation;
  return Math.min(ms, 5000);
}

/** Emits `join` with an ack and resolves on the ack (rejects after `timeoutMs`). */
function join(client, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const id = client.nextAckId++;
    const timer = setTimeout(() => {
      client.pending.delete(id);
      reject(new Error('join was not acknowledged'));
    }, timeoutMs);
    client.pending.set(id, () => {
      clearTimeout(timer);
      resolve();
    });
    client.emitRaw('["join","storm"]', id);
  });
}

function onJoinAck(buf, off, end, client) {
  const id = readUint(buf, off, end);
  const resolve = client.pending.get(id);
  if (resolve) {
    client.pending.delete(id);
    resolve();
  }
}

/**
 * After "go": opens --clients connections as fast as the window allows, timing each
 * handshake + namespace CONNECT and counting completions per wall-clock second (the
 * parent sums the seconds of several generators). The first --restart-clients then join
 * a room. After "restart", the others close; when the parent has killed and restarted the
 * server, each kept client reconnects with the official client's backoff and joins again.
 */
async function runStorm() {
  const n = Number(opt.clients);
  const keepCount = Math.min(n, Number(opt['restart-clients']));
  const rejoinMs = Number(opt['rejoin-secs']) * 1000;
  const hist = new Histogram();
  const perSecond = new Map();
  const source = sourceAddress();
  let phase = 'ready';
  let connected = 0;
  let last = 0;
  let rejoined = 0;
  let reconnectFailures = 0;
  let lastRejoinMs = null;
  ticker(() => {
    const rate = phase === 'restart' ? rejoined - last : connected - last;
    last = phase === 'restart' ? rejoined : connected;
    return { phase, rate, unit: phase === 'restart' ? 're-joins/s' : 'connects/s', connections: connected, rejoined, p50_ms: hist.percentileMs(50), p90_ms: hist.percentileMs(90), p99_ms: hist.percentileMs(99) };
  });
  emitLine('event', { event: 'ready' });
  await command('go');
  phase = 'ramp';
  log(`storm: ${n} clients to ${opt.url}, ${opt.concurrency} handshakes in flight`);
  const t0 = Date.now();
  const { clients, failures } = await connectWindow(
    n,
    (i) => {
      const c = new SioClient(opt.url, { onAck: onJoinAck, localAddress: source(i), transport: CONNECT_TRANSPORT });
      c.pending = new Map();
      return c;
    },
    (_client, us) => {
      connected += 1;
      hist.record(us);
      const second = Math.floor(Date.now() / 1000);
      perSecond.set(second, (perSecond.get(second) || 0) + 1);
    },
  );
  const rampMs = Date.now() - t0;
  emitLine('event', { event: 'ramped', connections: clients.length, failures });
  const kept = clients.slice(0, keepCount);
  // Every kept client is in the room before the restart, so the restart measures re-joins.
  const firstJoins = await Promise.allSettled(kept.map((c) => join(c)));
  const joinFailures = firstJoins.filter((r) => r.status === 'rejected').length;
  phase = 'joined';
  emitLine('event', { event: 'connected', connections: clients.length, failures, join_failures: joinFailures });
  await command('restart');
  for (const c of clients.slice(keepCount)) c.close();
  const deadline = performance.now() + rejoinMs;
  const rejoin = async (client) => {
    for (let attempt = 0; performance.now() < deadline; attempt += 1) {
      await sleep(backoffMs(attempt));
      try {
        await client.connect(10_000);
        await join(client);
        // Counted once per client: one that drops again later (a missed ping while the
        // generator is busy) and comes back does not stand in for one still missing.
        if (!client.rejoined) {
          client.rejoined = true;
          rejoined += 1;
          lastRejoinMs = Date.now();
        }
        return;
      } catch {
        reconnectFailures += 1;
      }
    }
  };
  let closed = 0;
  for (const c of kept) {
    c.onClose = (client) => {
      closed += 1;
      rejoin(client);
    };
  }
  phase = 'restart';
  last = 0;
  emitLine('event', { event: 'trimmed', kept: kept.length });
  await waitFor(() => rejoined >= kept.length, rejoinMs);
  for (const c of clients) c.close();
  return {
    scenario: 'storm',
    transport: CONNECT_TRANSPORT,
    clients: n,
    connected: clients.length,
    connect_failures: failures,
    ramp_ms: rampMs,
    connect_latency: roundSummary(hist.summary()),
    histogram: hist.export(),
    per_second: [...perSecond.entries()],
    restart_clients: kept.length,
    join_failures: joinFailures,
    closed_by_restart: closed,
    rejoined,
    reconnect_failures: reconnectFailures,
    last_rejoin_ms: lastRejoinMs,
  };
}

// ---------------------------------------------------------------- persisted chat

async function registerUsers(httpBase, count, tag) {
  const tokens = new Array(count);
  const register = async (i) => {
    const res = await fetch(`${httpBase}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: `b${tag}u${i}`, password: `bench-password-${tag}` }),
    });
    if (res.status !== 201) throw new Error(`register user ${i}: HTTP ${res.status} ${await res.text()}`);
    tokens[i] = (await res.json()).accessToken;
  };
  const inFlight = 8;
  for (let i = 0; i < count; i += inFlight) {
    const wave = [];
    for (let j = i; j < Math.min(count, i + inFlight); j += 1) wave.push(register(j));
    await Promise.all(wave);
    if ((i + inFlight) % 200 === 0) log(`  registered ${i + inFlight}/${count}`);
  }
  return tokens;
}

async function runChat() {
  const rooms = Number(opt.rooms);
  const perRoom = Number(opt['per-room']);
  const n = rooms * perRoom;
  const baatcheet = opt.server === 'baatcheet';
  const hist = new Histogram();
  const ackedIds = [];
  let acked = 0;
  let refused = 0;
  let lateAcks = 0;
  let lateDeliveries = 0;
  let stepStartUs = 0;
  const deliveryHist = new Histogram();
  let deliveries = 0;
  const newTag = Buffer.from('"message:new"');
  const withReceipts = baatcheet && opt.receipts;
  let receiptsSent = 0;
  const tag = Date.now().toString(36);

  // Ack frame: 43/chat,<id>[<arg>]. A pending entry is a resolver (setup calls) or a send time.
  const onAck = (buf, off, end, client) => {
    let id = 0;
    let k = off;
    for (; k < end; k += 1) {
      const c = buf[k];
      if (c < 48 || c > 57) break;
      id = id * 10 + (c - 48);
    }
    const pending = client.pending.get(id);
    if (pending === undefined) return;
    client.pending.delete(id);
    const arg = JSON.parse(buf.toString('utf8', k, end))[0];
    if (typeof pending === 'function') {
      pending(arg);
      return;
    }
    if (pending < stepStartUs) {
      lateAcks += 1;
      if (arg && arg.ok) ackedIds.push(arg.id);
      return;
    }
    hist.record(nowUs() - pending);
    if (arg && arg.ok) {
      acked += 1;
      ackedIds.push(arg.id);
    } else {
      refused += 1;
    }
  };
  const bodyNeedle = Buffer.from('"body":"');
  // A message's body starts with its send time in µs, so a delivery can be timed and one
  // from an earlier, undrained step told apart, without parsing the JSON.
  const idNeedle = Buffer.from('"id":');
  const onEvent = (buf, off, end, client) => {
    if (buf.indexOf(newTag, off) !== off + 1) return;
    if (withReceipts) {
      // Answer every delivery with receipt:read, as a chat client with the room open does.
      const j = buf.indexOf(idNeedle, off);
      const messageId = j < 0 ? 0 : readUint(buf, j + idNeedle.length, end);
      client.emitRaw(`["receipt:read",{"roomId":${client.roomId},"messageId":${messageId}}]`);
      receiptsSent += 1;
    }
    const i = buf.indexOf(bodyNeedle, off);
    const v = i < 0 || i >= end ? 0 : readUint(buf, i + bodyNeedle.length, end);
    if (v < stepStartUs) {
      lateDeliveries += 1;
      return;
    }
    deliveries += 1;
    deliveryHist.record(nowUs() - v);
  };
  const call = (client, event, payload) =>
    new Promise((resolve) => {
      const id = client.nextAckId++;
      client.pending.set(id, resolve);
      client.emitRaw(JSON.stringify([event, payload]), id);
    });

  const httpBase = opt.url.replace(/^ws/, 'http');
  let tokens = null;
  if (baatcheet) {
    const users = Math.max(rooms, Number(opt.users || n));
    log(`registering ${users} users`);
    const t0 = performance.now();
    tokens = await registerUsers(httpBase, users, tag);
    log(`  registered in ${round((performance.now() - t0) / 1000, 1)} s`);
  }
  log(`connecting ${n} chat clients (${rooms} rooms × ${perRoom})`);
  // A user's sockets all stay in one room: Baatcheet delivers a room's messages to every
  // socket of every member, so a user spread over several rooms would multiply deliveries
  // and the load would no longer match the Node server's (10 deliveries per message).
  const usersPerRoom = tokens ? Math.max(1, Math.floor(tokens.length / rooms)) : 1;
  const userOf = (i) => Math.floor(i / perRoom) * usersPerRoom + ((i % perRoom) % usersPerRoom);
  const clients = await connectMany(n, Number(opt.batch), (i) => {
    const auth = baatcheet ? { token: tokens[userOf(i)] } : { room: Math.floor(i / perRoom) + 1 };
    const c = new SioClient(opt.url, { nsp: '/chat', auth, onAck, onEvent });
    c.pending = new Map();
    return c;
  }, log);

  const roomIds = [];
  for (let r = 0; r < rooms; r += 1) {
    let roomId = r + 1;
    if (baatcheet) {
      const created = await call(clients[r * perRoom], 'room:create', { name: `bench-${tag}-${r}`, kind: 'public' });
      if (!created || !created.ok) throw new Error(`room:create refused: ${JSON.stringify(created)}`);
      roomId = created.room.id;
    }
    roomIds.push(roomId);
  }
  await Promise.all(clients.map(async (c, i) => {
    const res = await call(c, 'room:join', { roomId: roomIds[Math.floor(i / perRoom)] });
    // The creator is already a member; only other clients must be let in.
    if ((!res || !res.ok) && i % perRoom !== 0) throw new Error(`room:join refused: ${JSON.stringify(res)}`);
    c.roomId = roomIds[Math.floor(i / perRoom)];
  }));
  log('rooms ready');

  let seq = 0;
  const send = () => {
    const i = seq % n;
    const c = clients[i];
    const id = c.nextAckId++;
    const t = nowUs();
    c.pending.set(id, t);
    const body = `${t} hello from client ${i}, message ${seq}`;
    c.emitRaw(JSON.stringify(['message:send', { roomId: roomIds[Math.floor(i / perRoom)], body, clientId: `${tag}-${seq}` }]), id);
    seq += 1;
  };

  async function step(rate, secs) {
    hist.reset();
    deliveryHist.reset();
    stepStartUs = nowUs();
    const late0 = lateAcks;
    const lateDeliveries0 = lateDeliveries;
    const a0 = acked + refused;
    const acked0 = acked;
    const d0 = deliveries;
    let sent = 0;
    const m = await measured(async () => {
      const r = await paced(rate, secs, send);
      sent = r.sent;
      await waitFor(() => acked + refused - a0 >= sent && deliveries - d0 >= (acked - acked0) * perRoom, DRAIN_MS);
      return r;
    });
    const gotAcks = acked - acked0;
    return {
      target_per_s: rate,
      secs,
      sent,
      acked: gotAcks,
      refused: acked + refused - a0 - gotAcks,
      unanswered: sent - (acked + refused - a0),
      late_acks_from_earlier_steps: lateAcks - late0,
      acked_per_s: Math.round(gotAcks / m.result.wallS),
      deliveries: deliveries - d0,
      expected_deliveries: gotAcks * perRoom,
      deliveries_per_s: Math.round((deliveries - d0) / m.result.wallS),
      late_deliveries_from_earlier_steps: lateDeliveries - lateDeliveries0,
      delivery_latency: roundSummary(deliveryHist.summary()),
      ...roundSummary(hist.summary()),
      server_cpu_s: round(m.serverCpuS, 3),
      messages_per_server_cpu_s: m.serverCpuS > 0 ? Math.round(gotAcks / m.serverCpuS) : null,
      generator_core_share: round(m.genCore, 3),
      foreign_core_share: round(m.foreignCore, 3),
    };
  }

  let phase = 'quiet';
  let lastAcked = 0;
  ticker(() => {
    const rate = acked - lastAcked;
    lastAcked = acked;
    return { phase, rate, unit: 'acked msg/s', p50_ms: hist.percentileMs(50), p90_ms: hist.percentileMs(90), p99_ms: hist.percentileMs(99) };
  });
  const fixedRate = Number(opt['fixed-rate'] || 2000);
  const quietBefore = await waitForQuiet();
  phase = 'warm-up';
  log(`warm-up ${opt['warmup-secs']} s at ${fixedRate} msg/s`);
  await step(fixedRate, Number(opt['warmup-secs']));
  log(`fixed ${opt['fixed-secs']} s at ${fixedRate} msg/s`);
  phase = 'fixed';
  const fixed = await step(fixedRate, Number(opt['fixed-secs']));
  fixed.histogram = hist.export();
  log(`  ack p50 ${fixed.p50_ms} ms p99 ${fixed.p99_ms} ms, ${fixed.deliveries_per_s} deliveries/s`);
  // An overloaded fixed phase leaves a backlog; let it clear (≤ 30 s) so the ramp starts clean.
  await waitFor(() => clients.every((c) => c.pending.size === 0), 30_000);
  const ramp = [];
  let best = null;
  for (const rate of rates(opt.ramp || '1000,2000,3000,4000,6000,8000,10000,12000')) {
    phase = `ramp ${rate} msg/s`;
    const s = await step(rate, Number(opt['step-secs']));
    s.ok = s.unanswered === 0 && s.refused === 0 && s.p99_ms !== null && s.p99_ms < P99_LIMIT_MS;
    ramp.push(s);
    log(`  ramp ${rate} msg/s: acked ${s.acked_per_s}/s p99 ${s.p99_ms} ms unanswered ${s.unanswered} gen ${s.generator_core_share} other ${s.foreign_core_share} → ${s.ok ? 'ok' : 'stop'}`);
    if (!s.ok) break;
    best = s;
  }
  // Let stragglers land (10 s grace) before checking the database; what is still
  // pending after that was never answered.
  await waitFor(() => clients.every((c) => c.pending.size === 0), 10_000);
  const unanswered = clients.reduce((sum, c) => sum + c.pending.size, 0);
  for (const c of clients) c.close();

  return {
    scenario: 'chat',
    clients: n,
    other_load_before: quietBefore,
    rooms,
    fixed,
    ramp,
    max_acked_per_s: best ? best.acked_per_s : 0,
    max_target_per_s: best ? best.target_per_s : 0,
    ramp_capped: best !== null && best === ramp[ramp.length - 1],
    unanswered_whole_run: unanswered,
    receipts_sent: withReceipts ? receiptsSent : null,
    // The parent checks these against the server's database (when it knows the file).
    acked_ids: ackedIds,
  };
}

// ---------------------------------------------------------------- rooms over a cluster

/** Asks `client` for the server's cluster stats ({messages, bytes}) with an acked "stats". */
function askStats(client) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer to "stats" within 30 s')), 30_000);
    client.statsWaiter = (answer) => {
      clearTimeout(timer);
      resolve(answer);
    };
    client.emitRaw('["stats"]', client.nextAckId++);
  });
}

function onStatsAck(buf, off, end, client) {
  let k = off;
  while (k < end && buf[k] >= 48 && buf[k] <= 57) k += 1;
  const waiter = client.statsWaiter;
  client.statsWaiter = null;
  if (waiter) waiter(JSON.parse(buf.toString('utf8', k, end))[0]);
}

/**
 * Rooms spread over the servers: `--rooms` rooms of `--per-room` clients, every client of a
 * room on one server (`--placement split`: rooms dealt to the servers in turn; `first`: all
 * on the first server). The first client of each room publishes; publishes go round-robin
 * over the rooms at `--publish-rate` per second, and the server re-emits each to its room
 * (`--per-room` deliveries). `--idle-clients` more clients per server join no room; one of
 * each asks its server for its cluster stats before and after the fixed phase, so the
 * result says what each server's Redis subscription received per second.
 */
async function runRooms() {
  const roomCount = Number(opt.rooms);
  const perRoom = Number(opt['per-room']);
  const idle = Number(opt['idle-clients']);
  const publishRate = Number(opt['publish-rate']);
  const serverOf = (r) => (opt.placement === 'first' ? 0 : r % urls.length);
  const counter = deliveryCounter();
  const { onEvent, hist } = counter;
  const n = roomCount * perRoom;
  log(`connecting ${n} clients in ${roomCount} rooms (${opt.placement}) and ${idle} idle per server to ${opt.url}`);
  const members = await connectMany(n, Number(opt.batch), (i) => {
    const r = Math.floor(i / perRoom);
    return new SioClient(urls[serverOf(r)], { auth: { room: `room-${r}` }, onEvent });
  }, log);
  const idlers = await connectMany(idle * urls.length, Number(opt.batch), (i) =>
    new SioClient(urls[i % urls.length], { onAck: onStatsAck, onEvent }), log);
  const statsClients = urls.map((_, s) => idlers[s]);
  const publishers = Array.from({ length: roomCount }, (_, r) => members[r * perRoom]);
  const overhead = `42["message",{"t":${nowUs()},"pad":""}]`.length;
  const pad = 'x'.repeat(Math.max(0, Number(opt['frame-bytes']) - overhead));
  let next = 0;
  const publish = () => {
    publishers[next % roomCount].emitRaw(`["publish",{"t":${nowUs()},"pad":"${pad}"}]`);
    next += 1;
  };
  const stats = async () => (statsClients.every(Boolean) ? Promise.all(statsClients.map(askStats)) : null);

  async function step(secs) {
    counter.startStep();
    const d0 = counter.delivered;
    let sent = 0;
    const before = await stats();
    const m = await measured(async () => {
      const r = await paced(publishRate, secs, publish);
      sent = r.sent;
      await waitFor(() => counter.delivered - d0 >= sent * perRoom, DRAIN_MS);
      return r;
    });
    const after = await stats();
    const got = counter.delivered - d0;
    const wallS = m.wallS;
    return {
      publish_rate: publishRate,
      secs,
      publishes: sent,
      expected: sent * perRoom,
      delivered: got,
      undelivered_after_drain: sent * perRoom - got,
      deliveries_per_s: Math.round(got / m.result.wallS),
      ...roundSummary(hist.summary()),
      server_cpu_s: round(m.serverCpuS, 3),
      server_cpu_s_each: m.eachS.map((c) => round(c, 3)),
      server_cores_each: m.eachS.map((c) => round(c / wallS, 3)),
      aux_cpu_s: auxPids.length ? round(m.auxS, 3) : null,
      deliveries_per_server_cpu_s: m.serverCpuS > 0 ? Math.round(got / m.serverCpuS) : null,
      cluster_messages_per_s_each: after ? after.map((a, i) => Math.round((a.messages - before[i].messages) / wallS)) : null,
      cluster_bytes_per_s_each: after ? after.map((a, i) => Math.round((a.bytes - before[i].bytes) / wallS)) : null,
      generator_core_share: round(m.genCore, 3),
      foreign_core_share: round(m.foreignCore, 3),
    };
  }

  let phase = 'quiet';
  let lastDelivered = 0;
  ticker(() => {
    const { delivered } = counter;
    const rate = delivered - lastDelivered;
    lastDelivered = delivered;
    return { phase, rate, unit: 'deliveries/s', p50_ms: hist.percentileMs(50), p90_ms: hist.percentileMs(90), p99_ms: hist.percentileMs(99) };
  });
  const quietBefore = await waitForQuiet();
  phase = 'warm-up';
  log(`warm-up ${opt['warmup-secs']} s at ${publishRate} publishes/s`);
  await step(Number(opt['warmup-secs']));
  log(`fixed ${opt['fixed-secs']} s at ${publishRate} publishes/s (${publishRate * perRoom} deliveries/s)`);
  phase = 'fixed';
  const fixed = await step(Number(opt['fixed-secs']));
  fixed.histogram = hist.export();
  log(`  p99 ${fixed.p99_ms} ms, ${fixed.deliveries_per_server_cpu_s} deliveries/server-CPU-s, cores ${fixed.server_cores_each}, cluster msg/s ${fixed.cluster_messages_per_s_each}`);
  for (const c of [...members, ...idlers]) c.close();
  return {
    scenario: 'rooms',
    rooms: roomCount,
    per_room: perRoom,
    placement: opt.placement,
    idle_clients_per_server: idle,
    other_load_before: quietBefore,
    fixed,
  };
}

const scenarios = { fanout: runFanout, idle: runIdle, chat: runChat, rooms: runRooms, storm: runStorm };
scenarios[scenario]()
  .then((out) => {
    // Exit once the result is written: stdout to a pipe is asynchronous, and a large
    // result (histograms, acked ids) would be cut short by an immediate exit.
    const line = `${JSON.stringify({ ...out, server: opt.server, server_pid: pid, server_pids: pids })}\n`;
    process.stdout.write(line, () => process.exit(0));
  })
  .catch((err) => {
    log(`failed: ${err.stack || err}`);
    process.exit(1);
  });
