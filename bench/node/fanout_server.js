'use strict';
// Reference fan-out server: Node socket.io 4.8 with default options.
// Every "publish" is re-emitted to all sockets of namespace "/" as "message",
// exactly what bench/apps/fanout.py does with Baatcheet. "join" (with an ack) puts the
// socket in a room: the storm scenario's clients re-join one after a server restart.
//
// Usage: node fanout_server.js [port]   (or PORT=... node fanout_server.js)

const http = require('node:http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || process.env.PORT || 3000);
const httpServer = http.createServer();
const io = new Server(httpServer);

io.on('connection', (socket) => {
  socket.on('publish', (payload) => {
    io.emit('message', payload);
  });
  socket.on('join', (room, ack) => {
    if (typeof room === 'string') socket.join(room);
    if (typeof ack === 'function') ack(typeof room === 'string');
  });
});

httpServer.listen(port, '127.0.0.1', () => {
  console.log(`node fanout server listening on 127.0.0.1:${port}`);
});

process.on('SIGTERM', () => process.exit(0));
