// A Node socket.io 4.8 server in a Redis cluster (@socket.io/redis-adapter 8.3, classic
// pub/sub), plus an @socket.io/redis-emitter 5.1, both driven by the Python tests.
//
// Configuration (environment): REDIS_URL (required), PREFIX (channel prefix, the adapter's and
// emitter's "key"; default "socket.io"), NAMESPACES (comma-separated, "/" always included),
// REQUESTS_TIMEOUT_MS (the adapter's requestsTimeout; default 5000), NODE_NAME (default "node").
//
// Every namespace's "connection" handler joins the rooms in handshake.auth.rooms and sets
// socket.data to handshake.auth.data (or {}), so the tests decide rooms and data per client.
//
// Protocol: one JSON object per line, as tests/js/driver.mjs. Python writes commands on stdin:
//   {"op": "...", "req": <int>, ...}
// and every command is answered once with {"kind": "reply", "req", "ok": true, "result"} or
// {"kind": "reply", "req", "ok": false, "error"}. Async commands reply when they finish.
// Unprompted reports: {"kind": "ready", "port"}, {"kind": "connection", "nsp", "sid"},
// {"kind": "disconnect", "nsp", "sid", "reason"}, {"kind": "server_side", "nsp", "event",
// "args", "acked"}. Binary values travel as {"$bin": "<base64>"} in both directions.
//
// Targets: commands that act on sockets take "to" and "except" (lists of rooms), applied as
// io.of(nsp).to(to).except(except). Commands:
//   emit {nsp, to, except, event, args, volatile?}      emit_with_ack {…, timeout}
//   sockets_join / sockets_leave {nsp, to, except, rooms}   disconnect_sockets {…, close}
//   fetch_sockets {nsp, to, except}      all_rooms {nsp}      server_count {nsp}
//   server_side_emit {nsp, event, args}  server_side_emit_with_ack {nsp, event, args}
//   (the latter waits the adapter's requestsTimeout)
//   listen {nsp, event, reply}: report each server-side event; answer acked ones with reply
//   emitter_emit {nsp, to, except, event, args}   emitter_sockets_join / emitter_sockets_leave
//   {nsp, to, except, rooms}   emitter_disconnect_sockets {…, close}
//   emitter_server_side_emit {nsp, event, args}
// An ack that times out is not a failed command: its result is {error, responses}.

import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { createAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import { Server } from "socket.io";

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error("REDIS_URL is required");
const prefix = process.env.PREFIX || "socket.io";
const requestsTimeout = Number(process.env.REQUESTS_TIMEOUT_MS || 5000);
const namespaces = new Set(["/", ...(process.env.NAMESPACES || "").split(",").filter(Boolean)]);

function write(obj) {
  process.stdout.write(`${JSON.stringify(toWire(obj))}\n`);
}

function toWire(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (value instanceof Set) return [...value].map(toWire);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toWire);
  if (value instanceof Error) return { message: value.message };
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

const pubClient = createClient({ url: redisUrl });
const subClient = pubClient.duplicate();
const emitterClient = pubClient.duplicate();
for (const client of [pubClient, subClient, emitterClient]) {
  client.on("error", (err) => process.stderr.write(`redis client error: ${err.message}\n`));
}
await Promise.all([pubClient.connect(), subClient.connect(), emitterClient.connect()]);

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter: createAdapter(pubClient, subClient, { key: prefix, requestsTimeout }),
});
const emitter = new Emitter(emitterClient, { key: prefix });

for (const name of namespaces) {
  const nsp = io.of(name);
  nsp.on("connection", (socket) => {
    const auth = socket.handshake.auth ?? {};
    socket.data = fromWire(auth.data ?? {});
    if (Array.isArray(auth.rooms)) socket.join(auth.rooms);
    write({ kind: "connection", nsp: name, sid: socket.id });
    socket.on("disconnect", (reason) => write({ kind: "disconnect", nsp: name, sid: socket.id, reason }));
  });
}

function target(base, cmd) {
  let operator = base;
  if (cmd.to && cmd.to.length) operator = operator.to(cmd.to);
  if (cmd.except && cmd.except.length) operator = operator.except(cmd.except);
  return operator;
}

function nsp(cmd) {
  return io.of(cmd.nsp ?? "/");
}

async function settle(promise) {
  try {
    return { responses: await promise };
  } catch (err) {
    return { error: err.message, responses: err.responses ?? [] };
  }
}

const handlers = {
  emit: (cmd) => {
    let operator = target(nsp(cmd), cmd);
    if (cmd.volatile) operator = operator.volatile;
    operator.emit(cmd.event, ...fromWire(cmd.args ?? []));
  },
  emit_with_ack: (cmd) =>
    settle(target(nsp(cmd), cmd).timeout(cmd.timeout).emitWithAck(cmd.event, ...fromWire(cmd.args ?? []))),
  sockets_join: (cmd) => {
    target(nsp(cmd), cmd).socketsJoin(cmd.rooms);
  },
  sockets_leave: (cmd) => {
    target(nsp(cmd), cmd).socketsLeave(cmd.rooms);
  },
  disconnect_sockets: (cmd) => {
    target(nsp(cmd), cmd).disconnectSockets(Boolean(cmd.close));
  },
  fetch_sockets: async (cmd) => {
    const sockets = await target(nsp(cmd), cmd).fetchSockets();
    return sockets.map((socket) => ({
      id: socket.id,
      handshake: socket.handshake,
      rooms: [...socket.rooms],
      data: socket.data,
    }));
  },
  all_rooms: async (cmd) => [...(await nsp(cmd).adapter.allRooms())],
  server_count: (cmd) => nsp(cmd).adapter.serverCount(),
  server_side_emit: (cmd) => {
    nsp(cmd).serverSideEmit(cmd.event, ...fromWire(cmd.args ?? []));
  },
  server_side_emit_with_ack: (cmd) =>
    settle(nsp(cmd).serverSideEmitWithAck(cmd.event, ...fromWire(cmd.args ?? []))),
  listen: (cmd) => {
    const name = cmd.nsp ?? "/";
    io.of(name).on(cmd.event, (...args) => {
      const callback = typeof args[args.length - 1] === "function" ? args.pop() : null;
      write({ kind: "server_side", nsp: name, event: cmd.event, args, acked: callback !== null });
      if (callback) callback(fromWire(cmd.reply));
    });
  },
  emitter_emit: (cmd) => {
    target(emitter.of(cmd.nsp ?? "/"), cmd).emit(cmd.event, ...fromWire(cmd.args ?? []));
  },
  emitter_sockets_join: (cmd) => {
    target(emitter.of(cmd.nsp ?? "/"), cmd).socketsJoin(cmd.rooms);
  },
  emitter_sockets_leave: (cmd) => {
    target(emitter.of(cmd.nsp ?? "/"), cmd).socketsLeave(cmd.rooms);
  },
  emitter_disconnect_sockets: (cmd) => {
    target(emitter.of(cmd.nsp ?? "/"), cmd).disconnectSockets(Boolean(cmd.close));
  },
  emitter_server_side_emit: (cmd) => {
    emitter.of(cmd.nsp ?? "/").serverSideEmit(cmd.event, ...fromWire(cmd.args ?? []));
  },
};

async function handleLine(line) {
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
    const result = await handler(cmd);
    write({ kind: "reply", req: cmd.req, ok: true, result: result ?? null });
  } catch (err) {
    write({ kind: "reply", req: cmd.req, ok: false, error: err.message });
  }
}

async function shutdown() {
  io.close();
  await Promise.allSettled([pubClient.quit(), subClient.quit(), emitterClient.quit()]);
  process.exit(0);
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => void handleLine(line));
lines.on("close", () => void shutdown());
httpServer.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  write({ kind: "ready", port: httpServer.address().port });
});
