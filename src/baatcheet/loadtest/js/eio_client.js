'use strict';
// Building blocks of the load generator: a raw Engine.IO v4 / Socket.IO v5 client
// over a WebSocket, a fixed-bucket latency histogram, and readers for a server process's
// CPU time from /proc. Shipped inside the baatcheet wheel (baatcheet.loadtest);
// its only dependency is `ws`.
//
// Why raw: socket.io-client costs more CPU per message than the servers we measure,
// so it would be the bottleneck. This client decodes only what the benchmark needs
// (packet type bytes, one timestamp, ack ids) and allocates nothing of its own per
// delivery.
//
// Two WebSocket transports carry it. `ws` stays for the message-heavy scenarios: a
// hand-written RFC 6455 frame reader was tried there and saved nothing measurable, as
// the cost per delivery is the socket read, not the frame parse. Connects are another
// matter: `ws`'s client handshake (http.request, a random key, header objects, a sha1
// per connect) is most of the generator's CPU in a storm, so the connect-heavy
// scenarios (storm, idle) use raw_websocket.js, whose handshake is one pre-built
// request and two indexOf checks (generator CPU per 1,000 connects of a 19,900-client
// storm: 0.57-0.63 s with `ws`, 0.28-0.33 s raw).

const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const { performance } = require('node:perf_hooks');
const WebSocket = require('ws');
const { RawWebSocket, textFrame } = require('./raw_websocket');

const CH_OPEN = 0x30; // '0' Engine.IO open
const CH_CLOSE = 0x31; // '1' Engine.IO close
const CH_PING = 0x32; // '2' Engine.IO ping (server → client in EIO4)
const CH_MESSAGE = 0x34; // '4' Engine.IO message, carries a Socket.IO packet
const SIO_CONNECT = 0x30; // '0'
const SIO_DISCONNECT = 0x31; // '1'
const SIO_EVENT = 0x32; // '2'
const SIO_ACK = 0x33; // '3'
const SIO_CONNECT_ERROR = 0x34; // '4'

/**
 * Microseconds since the Unix epoch, from the monotonic clock anchored at process start:
 * an integer (compact in JSON) that several generator processes on one machine share, so
 * a time stamp written by one can be read by another.
 */
function nowUs() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** The PONG "3" reply to every server PING, framed once for the raw transport. */
const PONG_FRAME = textFrame('3');

/**
 * The `ws` client behind the same small surface as RawWebSocket: `send(text)`, `close()`,
 * `terminate()`, and `events.message(buf, start, end)`, `events.error(err)`,
 * `events.close()`.
 */
function wsTransport(url, localAddress, events) {
  const options = { perMessageDeflate: false, skipUTF8Validation: true };
  if (localAddress) options.localAddress = localAddress;
  const ws = new WebSocket(url, options);
  ws.on('error', events.error);
  ws.on('close', events.close);
  ws.on('message', (data) => events.message(data, 0, data.length));
  return ws;
}

/**
 * One Socket.IO client connected to one namespace over a WebSocket.
 *
 * Callbacks get `(buffer, payloadStart, end, client)`: the Socket.IO payload (after the
 * type bytes and namespace) is `buffer[payloadStart, end)`, so callers parse only what
 * they need. The buffer may be reused once the callback returns.
 */
class SioClient {
  /**
   * @param {string} baseUrl e.g. ws://127.0.0.1:3000
   * @param {{nsp?: string, auth?: object, onEvent?: Function, onAck?: Function,
   *          onClose?: Function, localAddress?: string, transport?: 'ws'|'raw'}} opts
   *          `onClose(client)` runs when a connected client's WebSocket closes (the server
   *          went away), not when it fails to connect; `localAddress` is the source
   *          address to connect from; `transport` 'raw' picks RawWebSocket (cheap
   *          connects, for the connect-heavy scenarios) instead of `ws` (the default).
   */
  constructor(baseUrl, opts = {}) {
    this.baseUrl = baseUrl;
    this.url = `${baseUrl}/socket.io/?EIO=4&transport=websocket`;
    this.transport = opts.transport || 'ws';
    if (this.transport !== 'ws' && this.transport !== 'raw') throw new TypeError(`unknown transport ${this.transport}`);
    this.raw = this.transport === 'raw';
    this.nsp = opts.nsp || '/';
    this.auth = opts.auth;
    this.onEvent = opts.onEvent || null;
    this.onAck = opts.onAck || null;
    this.onClose = opts.onClose || null;
    this.localAddress = opts.localAddress;
    this.ws = null;
    this.connected = false;
    this.nextAckId = 0;
    // Frames start with "4<type>" then "/nsp," for any namespace but "/".
    this.prefix = this.nsp === '/' ? '' : `${this.nsp},`;
    this.payloadOffset = 2 + Buffer.byteLength(this.prefix);
  }

  /** Opens the WebSocket and connects the namespace; resolves once `40` arrives. */
  connect(timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        fail(new Error(`no namespace connect within ${timeoutMs} ms`));
      }, timeoutMs);
      let settled = false;
      let ws = null;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (ws) ws.terminate();
        reject(err);
      };
      const events = {
        error: fail,
        close: () => {
          const wasConnected = this.connected;
          this.connected = false;
          if (!settled) fail(new Error('closed before namespace connect'));
          else if (wasConnected && this.ws === ws && this.onClose) this.onClose(this);
        },
        message: (data, start, end) => {
          const t = data[start];
          if (t === CH_MESSAGE) {
            const s = data[start + 1];
            const payload = start + this.payloadOffset;
            if (s === SIO_EVENT) {
              if (this.onEvent) this.onEvent(data, payload, end, this);
            } else if (s === SIO_ACK) {
              if (this.onAck) this.onAck(data, payload, end, this);
            } else if (s === SIO_CONNECT) {
              this.connected = true;
              settled = true;
              clearTimeout(timer);
              resolve(this);
            } else if (s === SIO_CONNECT_ERROR) {
              fail(new Error(`connect_error: ${data.toString('utf8', payload, end)}`));
            } else if (s === SIO_DISCONNECT) {
              ws.close();
            }
          } else if (t === CH_PING) {
            if (this.raw) ws.sendFrame(PONG_FRAME);
            else ws.send('3');
          } else if (t === CH_OPEN) {
            const auth = this.auth === undefined ? '' : JSON.stringify(this.auth);
            ws.send(`40${this.prefix}${auth}`);
          } else if (t === CH_CLOSE) {
            ws.close();
          }
        },
      };
      // A synchronous throw (a malformed URL) must reject, not escape the executor's timer.
      try {
        ws = this.raw
          ? new RawWebSocket(this.baseUrl, this.localAddress, events)
          : wsTransport(this.url, this.localAddress, events);
      } catch (err) {
        fail(err);
        return;
      }
      this.ws = ws;
    });
  }

  /** Sends an event; `ackId` (integer) asks the server for an ack. */
  emitRaw(jsonArray, ackId) {
    const id = ackId === undefined ? '' : String(ackId);
    this.ws.send(`42${this.prefix}${id}${jsonArray}`);
  }

  /** Closes for good: no onClose call, so no reconnection follows. */
  close() {
    this.onClose = null;
    if (this.ws) this.ws.terminate();
  }
}

/**
 * Opens `count` clients, `batch` handshakes in flight at a time, so the server's
 * accept queue (asyncio's default backlog is 100) is never overrun.
 */
async function connectMany(count, batch, makeClient, log) {
  const clients = [];
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    const wave = [];
    for (let j = 0; j < n; j += 1) wave.push(makeClient(i + j).connect());
    clients.push(...(await Promise.all(wave)));
    if (log && (i + n) % 1000 === 0) log(`  connected ${i + n}/${count}`);
  }
  return clients;
}

/** Latency histogram with fixed 10 µs buckets up to 10 s; recording never allocates. */
class Histogram {
  constructor(bucketUs = 10, maxUs = 10_000_000) {
    this.bucketUs = bucketUs;
    this.counts = new Uint32Array(Math.ceil(maxUs / bucketUs) + 1);
    this.reset();
  }

  reset() {
    this.counts.fill(0);
    this.count = 0;
    this.maxUs = 0;
  }

  record(us) {
    const v = us < 0 ? 0 : us;
    let b = Math.floor(v / this.bucketUs);
    if (b >= this.counts.length) b = this.counts.length - 1;
    this.counts[b] += 1;
    this.count += 1;
    if (v > this.maxUs) this.maxUs = v;
  }

  /** Upper edge of the bucket holding the p-th percentile, in milliseconds. */
  percentileMs(p) {
    if (this.count === 0) return null;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let b = 0; b < this.counts.length; b += 1) {
      seen += this.counts[b];
      if (seen >= rank) return ((b + 1) * this.bucketUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  summary() {
    return {
      count: this.count,
      p50_ms: this.percentileMs(50),
      p90_ms: this.percentileMs(90),
      p99_ms: this.percentileMs(99),
      max_ms: this.count ? this.maxUs / 1000 : null,
    };
  }

  /**
   * The non-empty buckets as [index, count] pairs, for a parent process that merges the
   * histograms of several generators (percentiles cannot be averaged).
   */
  export() {
    const buckets = [];
    for (let b = 0; b < this.counts.length; b += 1) {
      if (this.counts[b] !== 0) buckets.push([b, this.counts[b]]);
    }
    return { bucket_us: this.bucketUs, max_us: this.maxUs, buckets };
  }
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** User + system CPU seconds the process has used so far (fields 14 and 15 of stat). */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * Busy CPU seconds of cores 0 and 1 together (all processes), from /proc/stat.
 * Subtracting the server's and generator's own CPU time shows how much other work
 * on the machine competed with the benchmark, so noisy runs can be recognised.
 */
function busyCoreSeconds() {
  let busy = 0;
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    if (!/^cpu\d+ /.test(line)) continue;
    const f = line.split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: count process time (user, nice,
    // system) and steal; interrupt time is left out because loopback traffic of the
    // benchmark itself is partly accounted there.
    busy += f[0] + f[1] + f[2] + f[7];
  }
  return busy / CLK_TCK;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The unsigned decimal starting at buf[from] (0 if none), read without allocating. */
function readUint(buf, from, end) {
  let v = 0;
  for (let k = from; k < end; k += 1) {
    const c = buf[k];
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  return v;
}

module.exports = {
  SioClient,
  connectMany,
  Histogram,
  cpuSeconds,
  busyCoreSeconds,
  nowUs,
  readUint,
  sleep,
};
