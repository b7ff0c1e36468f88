// Drives many official socket.io-client sockets for the Python test suite.
//
// Protocol: one JSON object per line. Python writes commands on stdin:
//   {"op": "...", "req": <int>, "id": "<client name>", ...}
// and the driver answers every command once with
//   {"kind": "reply", "req": <int>, "ok": true, ...} or {"kind": "reply", "req": <int>, "ok": false, "error": "..."}
// Everything the server makes happen is reported as {"kind": "<happening>", "id": "<client name>", ...}:
// connect, connect_error, disconnect, event, ack, ping, reconnect_attempt, reconnect,
// reconnect_error, reconnect_failed, upgrade, close (engine closed, with reason).
// Binary values travel as {"$bin": "<base64>"} in both directions and are Buffers here.
// The "agent" option, when it is an object, is http(s).Agent options: the driver builds the
// Agent, which both transports use (long-polling takes options such as localAddress and
// family only this way).
//
// The driver never exits on a bad command: it replies ok=false so the test sees why.

import http from "node:http";
import https from "node:https";
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const clients = new Map();

function write(obj) {
  process.stdout.write(`${JSON.stringify(toWire(obj))}\n`);
}

function report(id, kind, fields = {}) {
  write({ kind, id, ...fields });
}

// Buffers, ArrayBuffers and typed arrays become {"$bin": base64}; everything else is walked.
function toWire(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(toWire);
  if (value instanceof Error) return { message: value.message, data: toWire(value.data ?? null) };
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = toWire(item);
    return out;
  }
  if (typeof value === "function" || value === undefined) return null;
  return value;
}

function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$bin") return Buffer.from(value.$bin, "base64");
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = fromWire(item);
    return out;
  }
  return value;
}

// socket.io-client's disconnect/close "details" are an Error, an object or undefined.
function describe(details) {
  if (details === undefined || details === null) return null;
  if (details instanceof Error) return details.message;
  if (typeof details === "object" && "description" in details) {
    const inner = details.description;
    return inner instanceof Error ? inner.message : String(inner ?? "");
  }
  return String(details);
}

function transportName(socket) {
  return socket.io.engine?.transport?.name ?? null;
}

// The engine is recreated on every reconnection, so its listeners are attached on each "open".
function watchEngine(client) {
  const { id, socket } = client;
  const engine = socket.io.engine;
  engine.on("upgrade", (transport) => report(id, "upgrade", { transport: transport.name }));
  engine.on("close", (reason, details) =>
    report(id, "close", { reason, description: describe(details) }),
  );
  if (client.pongStopped) silencePongs(engine);
}

// The engine answers a server PING by queueing a PONG through its private _sendPacket.
// Dropping exactly that packet keeps every other behaviour of the client intact, so the
// server sees a live socket that stopped answering heartbeats.
function silencePongs(engine) {
  if (typeof engine._sendPacket !== "function") {
    throw new Error("engine.io-client has no _sendPacket: update stop_pong for this client version");
  }
  if (engine._pongsSilenced) return;
  const original = engine._sendPacket.bind(engine);
  engine._sendPacket = (type, ...rest) => (type === "pong" ? undefined : original(type, ...rest));
  engine._pongsSilenced = true;
}

function answerAck(client, event, ackFn) {
  const rule = client.ackRules.get(event) ?? client.ackRules.get("*");
  if (rule === undefined || rule === "never") return false;
  ackFn(...fromWire(rule));
  return true;
}

function withAgent(url, options) {
  const { agent } = options;
  if (agent === null || typeof agent !== "object") return options;
  const secure = /^(https|wss):/.test(url);
  return { ...options, agent: new (secure ? https : http).Agent(agent) };
}

function createClient(id, url, opts) {
  if (clients.has(id)) throw new Error(`client ${JSON.stringify(id)} already exists; disconnect it or pick another id`);
  const options = withAgent(url, { forceNew: true, ...fromWire(opts ?? {}) });
  const socket = io(url, options);
  const client = {
    id,
    socket,
    options,
    ackRules: new Map(),
    pendingAcks: new Map(),
    nextAckId: 0,
    pongStopped: false,
  };
  clients.set(id, client);

  socket.on("connect", () =>
    report(id, "connect", {
      sid: socket.id,
      transport: transportName(socket),
      recovered: socket.recovered,
    }),
  );
  socket.on("connect_error", (err) =>
    report(id, "connect_error", {
      message: err.message,
      data: err.data ?? null,
      description: describe(err.description ?? null),
    }),
  );
  socket.on("disconnect", (reason, details) =>
    report(id, "disconnect", { reason, description: describe(details) }),
  );
  socket.onAny((name, ...args) => {
    const last = args[args.length - 1];
    if (typeof last !== "function") {
      report(id, "event", { name, args });
      return;
    }
    const ackFn = args.pop();
    const ackId = client.nextAckId++;
    const answered = answerAck(client, name, ackFn);
    if (!answered) client.pendingAcks.set(ackId, ackFn);
    report(id, "event", { name, args, ack_id: ackId, answered });
  });

  const manager = socket.io;
  manager.on("open", () => watchEngine(client));
  manager.on("ping", () => report(id, "ping"));
  manager.on("reconnect_attempt", (attempt) => report(id, "reconnect_attempt", { attempt }));
  manager.on("reconnect", (attempt) => report(id, "reconnect", { attempt }));
  manager.on("reconnect_error", (err) => report(id, "reconnect_error", { message: err.message }));
  manager.on("reconnect_failed", () => report(id, "reconnect_failed"));
  return client;
}

function getClient(id) {
  const client = clients.get(id);
  if (client === undefined) throw new Error(`no client named ${JSON.stringify(id)}; connect it first`);
  return client;
}

function emit(cmd) {
  const client = getClient(cmd.id);
  const args = fromWire(cmd.args ?? []);
  let target = client.socket;
  if (cmd.volatile) target = target.volatile;
  if (cmd.compress === false) target = target.compress(false);
  if (!cmd.ack) {
    target.emit(cmd.event, ...args);
    return;
  }
  const hasTimeout = cmd.timeout !== undefined && cmd.timeout !== null;
  if (hasTimeout) target = target.timeout(cmd.timeout);
  // With a timeout (per emit or the ackTimeout/retries options) the callback gets an error first.
  const errorFirst = hasTimeout || client.options.ackTimeout !== undefined || Boolean(client.options.retries);
  target.emit(cmd.event, ...args, (...response) => {
    if (!errorFirst) {
      report(cmd.id, "ack", { req: cmd.req, args: response });
      return;
    }
    const [err, ...rest] = response;
    if (err) report(cmd.id, "ack", { req: cmd.req, error: err.message ?? String(err) });
    else report(cmd.id, "ack", { req: cmd.req, args: rest });
  });
}

function sendRaw(cmd) {
  const client = getClient(cmd.id);
  const transport = client.socket.io.engine?.transport;
  if (!transport) throw new Error("no engine transport: the client is not connected");
  const data = fromWire(cmd.data);
  if (transport.name === "websocket") {
    transport.ws.send(data);
  } else if (transport.name === "polling") {
    // doWrite POSTs an already encoded payload as the body, bypassing the packet encoder.
    transport.doWrite(data, () => report(cmd.id, "raw_sent"));
  } else {
    throw new Error(`send_raw does not support the ${transport.name} transport`);
  }
}

function state(cmd) {
  const { socket } = getClient(cmd.id);
  return {
    connected: socket.connected,
    active: socket.active,
    sid: socket.id ?? null,
    recovered: socket.recovered,
    transport: transportName(socket),
  };
}

const handlers = {
  connect: (cmd) => {
    createClient(cmd.id, cmd.url, cmd.opts);
  },
  emit,
  send_raw: sendRaw,
  state,
  on_ack: (cmd) => {
    getClient(cmd.id).ackRules.set(cmd.event, cmd.reply);
  },
  reply_ack: (cmd) => {
    const client = getClient(cmd.id);
    const ackFn = client.pendingAcks.get(cmd.ack_id);
    if (ackFn === undefined) throw new Error(`no unanswered ack ${cmd.ack_id}; it was answered already or never asked`);
    client.pendingAcks.delete(cmd.ack_id);
    ackFn(...fromWire(cmd.args ?? []));
  },
  open: (cmd) => {
    getClient(cmd.id).socket.connect();
  },
  disconnect: (cmd) => {
    getClient(cmd.id).socket.disconnect();
  },
  forget: (cmd) => {
    const client = getClient(cmd.id);
    client.socket.disconnect();
    client.socket.io.engine?.close();
    clients.delete(cmd.id);
  },
  close_engine: (cmd) => {
    const engine = getClient(cmd.id).socket.io.engine;
    if (!engine) throw new Error("no engine: the client is not connected");
    engine.close();
  },
  drop_transport: (cmd) => {
    const transport = getClient(cmd.id).socket.io.engine?.transport;
    if (transport?.name !== "websocket") {
      throw new Error("drop_transport needs a connected websocket transport");
    }
    // Closing the WebSocket itself skips Engine.IO's close packet, as a dropped network does.
    transport.ws.close();
  },
  stop_pong: (cmd) => {
    const client = getClient(cmd.id);
    client.pongStopped = true;
    if (client.socket.io.engine) silencePongs(client.socket.io.engine);
  },
  exit: () => {
    shutdown(0);
  },
};

function shutdown(code) {
  for (const client of clients.values()) client.socket.disconnect();
  // Let close frames flush before leaving.
  setTimeout(() => process.exit(code), 50);
}

function handleLine(line) {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    write({ kind: "reply", req: null, ok: false, error: `bad JSON: ${err.message}` });
    return;
  }
  const handler = handlers[cmd.op];
  if (handler === undefined) {
    write({ kind: "reply", req: cmd.req, ok: false, error: `unknown op ${JSON.stringify(cmd.op)}` });
    return;
  }
  try {
    const result = handler(cmd);
    write({ kind: "reply", req: cmd.req, ok: true, result: result ?? null });
  } catch (err) {
    write({ kind: "reply", req: cmd.req, ok: false, error: err.message });
  }
}

const lines = createInterface({ input: process.stdin });
lines.on("line", handleLine);
lines.on("close", () => shutdown(0));
write({ kind: "ready", pid: process.pid });
