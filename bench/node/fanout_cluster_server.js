'use strict';
// Reference fan-out server for `scripts/bench cluster`: Node socket.io 4.8, joined to other
// nodes through @socket.io/redis-adapter 8.3 (classic pub/sub, node-redis 4) when REDIS_URL
// is set, alone otherwise. The same app as bench/apps/fanout.py:
//   - a client whose handshake auth has `room` joins it, and its "publish" events are
//     re-emitted to that room as "message"; any other client's go to everyone;
//   - "stats" (with an ack) answers {messages, bytes}: the broadcasts this node's Redis
//     subscription delivered to the adapter so far, and their payload bytes (0 without Redis).
//
// Usage: REDIS_URL=redis://127.0.0.1:6379 node fanout_cluster_server.js <port>

const http = require('node:http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || process.env.PORT || 3000);
const redisUrl = process.env.REDIS_URL || '';

const received = { messages: 0, bytes: 0 };

async function adapter() {
  if (!redisUrl) return undefined;
  const { createClient } = require('redis');
  const { createAdapter, RedisAdapter } = require('@socket.io/redis-adapter');
  // Count what the pattern subscription hands the adapter, before its own filtering: the
  // figure Baatcheet's broker reports as messages_received / bytes_received.
  const onmessage = RedisAdapter.prototype.onmessage;
  RedisAdapter.prototype.onmessage = function countingOnmessage(pattern, channel, msg) {
    received.messages += 1;
    received.bytes += msg.length;
    return onmessage.call(this, pattern, channel, msg);
  };
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  return createAdapter(pubClient, subClient);
}

async function main() {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: await adapter() });

  io.on('connection', (socket) => {
    const room = socket.handshake.auth && socket.handshake.auth.room;
    if (typeof room === 'string') {
      socket.join(room);
      socket.on('publish', (payload) => {
        io.to(room).emit('message', payload);
      });
    } else {
      socket.on('publish', (payload) => {
        io.emit('message', payload);
      });
    }
    socket.on('stats', (ack) => {
      if (typeof ack === 'function') ack({ ...received });
    });
  });

  httpServer.listen(port, '127.0.0.1', () => {
    console.log(`node fanout cluster server listening on 127.0.0.1:${port} (redis ${redisUrl || 'none'})`);
  });
}

process.on('SIGTERM', () => process.exit(0));
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
