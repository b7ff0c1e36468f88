// A tiny reference socket.io 4.8 server used only to prove tests/js/driver.mjs.
//
// It prints {"port": N} on stdout once listening on 127.0.0.1 and exits when stdin closes.
// Namespace /chat: auth.token "bad" is refused with data {code: "invalid_token"}; on connect
// the server emits "welcome" with the socket id and a binary blob. Events:
//   echo(...args, ack)           acks with the same args
//   broadcast(...args)           emits "news" with the args to every /chat socket
//   ask({event, args, timeout})  emits event with ack to the sender, reports "answer"
//                                 {args} or {error} back
//   silent(..., ack)             never acks
//   kick()                       server-side disconnect of the sender
// The engine heartbeats fast (pingInterval 300 ms, pingTimeout 200 ms) so heartbeat tests are quick.

import { createServer } from "node:http";
import { Server } from "socket.io";

const httpServer = createServer();
const io = new Server(httpServer, { pingInterval: 300, pingTimeout: 200 });
const chat = io.of("/chat");

chat.use((socket, next) => {
  if (socket.handshake.auth?.token === "bad") {
    const err = new Error("invalid token");
    err.data = { code: "invalid_token" };
    next(err);
    return;
  }
  next();
});

chat.on("connection", (socket) => {
  socket.emit("welcome", { sid: socket.id }, Buffer.from([0, 1, 2, 255]));
  socket.on("echo", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
  socket.on("broadcast", (...args) => chat.emit("news", ...args));
  socket.on("ask", ({ event, args, timeout }) => {
    socket.timeout(timeout).emit(event, ...args, (err, ...answer) => {
      socket.emit("answer", err ? { error: err.message } : { args: answer });
    });
  });
  socket.on("silent", () => {});
  socket.on("kick", () => socket.disconnect());
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: httpServer.address().port })}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
