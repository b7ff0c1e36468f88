// The reference socket.io 4.8 server the Python client (baatcheet.client) is tested against.
//
// Usage: node client_server.mjs [port]   (0 or nothing: any free port)
// Prints {"port": N} on stdout once listening on 127.0.0.1; exits when stdin closes, dropping
// every connection at once (what a crashed or restarted server looks like to a client).
//
// Engine: pingInterval 400 ms, pingTimeout 300 ms; connection state recovery on (2 min).
// Namespace "/":
//   echo(...args, ack)            acks with the same args
//   ask({event, args, timeout})   emits event with an ack to the sender and reports the
//                                 answer as "answer" {args} or {error}
//   broadcast(...args)            io.emit("news", ...args): recovery offsets ride along
//   kick()                        socket.disconnect(): "io server disconnect" on the client
//   drop()                        socket.conn.close(): the transport ends, the client
//                                 reconnects and the session is recoverable
//   missed_while_away(...args)    drops the connection, then broadcasts "news" with args
//                                 while the client is away (recovery must replay it)
//   state(ack)                    acks {id, recovered, transport, auth}
// Namespace "/chat": auth.token must be "secret", else connect_error "invalid token" with
// data {code: "invalid_token"}; on connect emits "welcome" {sid} and a binary blob; echo.

import { createServer } from "node:http";
import { Server } from "socket.io";

const httpServer = createServer();
const io = new Server(httpServer, {
  pingInterval: 400,
  pingTimeout: 300,
  connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true },
});

const echo = (...args) => {
  const ack = args.pop();
  ack(...args);
};

io.on("connection", (socket) => {
  socket.on("echo", echo);
  socket.on("ask", ({ event, args, timeout }) => {
    socket.timeout(timeout).emit(event, ...args, (err, ...answer) => {
      socket.emit("answer", err ? { error: err.message } : { args: answer });
    });
  });
  socket.on("broadcast", (...args) => io.emit("news", ...args));
  socket.on("kick", () => socket.disconnect());
  socket.on("drop", () => socket.conn.close());
  socket.on("missed_while_away", (...args) => {
    socket.conn.close();
    setTimeout(() => io.emit("news", ...args), 20);
  });
  socket.on("state", (ack) =>
    ack({
      id: socket.id,
      recovered: socket.recovered,
      transport: socket.conn.transport.name,
      auth: socket.handshake.auth,
    }),
  );
});

const chat = io.of("/chat");
chat.use((socket, next) => {
  if (socket.handshake.auth?.token !== "secret") {
    const err = new Error("invalid token");
    err.data = { code: "invalid_token" };
    next(err);
    return;
  }
  next();
});
chat.on("connection", (socket) => {
  socket.emit("welcome", { sid: socket.id }, Buffer.from([0, 1, 2, 255]));
  socket.on("echo", echo);
});

const port = Number(process.argv[2] ?? 0);
httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: httpServer.address().port })}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
