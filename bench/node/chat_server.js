'use strict';
// Reference persisted-chat server: Node socket.io 4.8 + better-sqlite3 (WAL).
// Speaks the subset of docs/reference/chat-events.md the chat benchmark uses, on
// namespace "/chat": `room:join {roomId}` and `message:send {roomId, body, clientId}`,
// both with acks. A message is inserted (committed) before it is broadcast to the
// room and acked, the same save-then-broadcast order Baatcheet promises.
//
// Usage: node chat_server.js <port> <sqlite-file>

const http = require('node:http');
const Database = require('better-sqlite3');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || process.env.PORT || 3000);
const dbPath = process.argv[3] || process.env.DB_PATH || 'chat-bench.db';

const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  room_id INTEGER NOT NULL,
  author TEXT NOT NULL,
  body TEXT NOT NULL,
  client_id TEXT NOT NULL,
  ts INTEGER NOT NULL
)`);
const insert = db.prepare(
  'INSERT INTO messages (room_id, author, body, client_id, ts) VALUES (?, ?, ?, ?, ?)',
);

const httpServer = http.createServer();
const io = new Server(httpServer);
const chat = io.of('/chat');

function isAck(fn) {
  return typeof fn === 'function';
}

chat.on('connection', (socket) => {
  const author = { id: 0, username: socket.id };
  const initialRoom = socket.handshake.auth && socket.handshake.auth.room;
  if (initialRoom !== undefined) socket.join(`room:${initialRoom}`);

  socket.on('room:join', (payload, ack) => {
    const roomId = Number(payload && payload.roomId);
    if (!Number.isInteger(roomId)) {
      if (isAck(ack)) ack({ ok: false, error: { code: 'invalid', message: 'roomId' } });
      return;
    }
    socket.join(`room:${roomId}`);
    if (isAck(ack)) ack({ ok: true, room: { id: roomId, name: `room-${roomId}`, kind: 'public' } });
  });

  socket.on('message:send', (payload, ack) => {
    const roomId = Number(payload && payload.roomId);
    const body = payload && payload.body;
    const clientId = payload && payload.clientId;
    if (!Number.isInteger(roomId) || typeof body !== 'string' || typeof clientId !== 'string') {
      if (isAck(ack)) ack({ ok: false, error: { code: 'invalid', message: 'bad message' } });
      return;
    }
    const ts = Date.now();
    const id = Number(insert.run(roomId, author.username, body, clientId, ts).lastInsertRowid);
    chat.to(`room:${roomId}`).emit('message:new', { id, roomId, author, body, clientId, ts });
    if (isAck(ack)) ack({ ok: true, id, ts });
  });
});

httpServer.listen(port, '127.0.0.1', () => {
  console.log(`node chat server listening on 127.0.0.1:${port} (db ${dbPath})`);
});

function shutdown() {
  db.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
