'use strict';
// A minimal RFC 6455 WebSocket client over node:net, for the load generator's
// connect-heavy scenarios (storm, idle). It does only what a Socket.IO benchmark client
// needs: one fixed opening handshake, text frames out, frames in.
//
// Why not `ws` here: a storm is thousands of opening handshakes and almost no messages,
// and `ws`'s client handshake (http.request, a random key, header objects, a sha1 of
// each key) cost the generator more CPU per connect than the server it measured. Here
// the upgrade request is one Buffer per URL, written as is; the key is fixed, so the
// expected Sec-WebSocket-Accept value is computed once, and the answer is checked with
// two indexOf calls.
//
// Masking (RFC 6455 §5.3): client frames are masked with the key 0, which is a valid
// frame for any server (it unmasks with XOR 0) and costs no XOR, so a frame with a fixed
// payload (the PONG "3") is one constant Buffer. §5.3 asks for unpredictable keys to stop
// a hostile page steering the bytes a proxy sees (§10.3); a benchmark client that sends
// only its own packets to its own server has no such attacker. (`ws` makes the same
// trade when its `generateMask` option yields a zero key: it then skips the XOR.)
//
// Reads go into one Buffer shared by every socket of the process (net's `onread`):
// frames are parsed synchronously in the read callback, and only a frame split across
// reads is copied out, so a read allocates nothing.

const crypto = require('node:crypto');
const net = require('node:net');

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
const FIN = 0x80;
const MASK_BIT = 0x80;
// FIN + opcode, then MASK + length, then the zero masking key.
const MASKED_HEADER_SMALL = 6;
const MASKED_HEADER_MEDIUM = 8;
/** Larger frames are refused: storm and idle clients receive packets of a few bytes. */
const MAX_FRAME_BYTES = 1 << 20;
/** An opening-handshake answer longer than this is not a WebSocket server's. */
const MAX_RESPONSE_HEAD_BYTES = 8192;
/** How long a closing client waits for the server to end the TCP connection. */
const CLOSE_TIMEOUT_MS = 5000;

const KEY = Buffer.from('baatcheet bench!').toString('base64'); // 16 bytes, as §4.1 asks
const ACCEPT = Buffer.from(
  crypto.createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64'),
);
const STATUS_101 = Buffer.from('HTTP/1.1 101 ');
const HEAD_END = Buffer.from('\r\n\r\n');
/** The answer to a close frame: a masked close with no body (§5.5.1). */
const CLOSE_FRAME = Buffer.from([FIN | OP_CLOSE, MASK_BIT, 0, 0, 0, 0]);

const readBuffer = Buffer.allocUnsafe(64 * 1024);

/** A refused opening handshake: what the server said, so a wrong URL is easy to see. */
class HandshakeError extends Error {
  name = 'HandshakeError';
}

/** A frame this client cannot accept (masked, or larger than it reads). */
class ProtocolError extends Error {
  name = 'ProtocolError';
}

/** The pre-built upgrade request and address of each base URL, built once. */
const targets = new Map();

function target(baseUrl) {
  let t = targets.get(baseUrl);
  if (t === undefined) {
    const url = new URL(baseUrl);
    if (url.protocol !== 'ws:') throw new TypeError(`raw transport takes ws:// URLs, not ${baseUrl}`);
    const port = Number(url.port || 80);
    const path = `${url.pathname.replace(/\/$/, '')}/socket.io/?EIO=4&transport=websocket`;
    const request = Buffer.from(
      `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    t = { host: url.hostname, port, path, request };
    targets.set(baseUrl, t);
  }
  return t;
}

/** A masked text frame of `text` (zero key). */
function textFrame(text) {
  const n = Buffer.byteLength(text);
  if (n < 126) {
    const frame = Buffer.allocUnsafe(MASKED_HEADER_SMALL + n);
    frame[0] = FIN | OP_TEXT;
    frame[1] = MASK_BIT | n;
    frame.writeUInt32BE(0, 2);
    frame.write(text, MASKED_HEADER_SMALL, 'utf8');
    return frame;
  }
  if (n > 0xffff) throw new RangeError(`a ${n}-byte frame is more than this client sends`);
  const frame = Buffer.allocUnsafe(MASKED_HEADER_MEDIUM + n);
  frame[0] = FIN | OP_TEXT;
  frame[1] = MASK_BIT | 126;
  frame.writeUInt16BE(n, 2);
  frame.writeUInt32BE(0, 4);
  frame.write(text, MASKED_HEADER_MEDIUM, 'utf8');
  return frame;
}

/** A masked pong echoing a ping's payload (§5.5.3); pings carry at most 125 bytes. */
function pongFrame(buf, start, end) {
  const frame = Buffer.allocUnsafe(MASKED_HEADER_SMALL + end - start);
  frame[0] = FIN | OP_PONG;
  frame[1] = MASK_BIT | (end - start);
  frame.writeUInt32BE(0, 2);
  buf.copy(frame, MASKED_HEADER_SMALL, start, end);
  return frame;
}

/**
 * One WebSocket connection to `${baseUrl}/socket.io/?EIO=4&transport=websocket`.
 *
 * `events.message(buf, start, end)` gets each text or binary message as a range of a
 * buffer that is reused after the call returns (parse it, do not keep it);
 * `events.error(err)` a failed connect, a refused handshake or a protocol error, and
 * `events.close()` runs once when the TCP connection is gone, whatever the cause.
 */
class RawWebSocket {
  constructor(baseUrl, localAddress, events) {
    const t = target(baseUrl);
    this.events = events;
    this.path = t.path;
    this.open = false; // the 101 answer has been read
    this.pending = null; // bytes of a frame (or of the 101 answer) split across reads
    this.fragments = null; // payloads of a fragmented message so far
    const onread = { buffer: readBuffer, callback: (n, buf) => this.onRead(buf, n) };
    const options = { host: t.host, port: t.port, onread };
    if (localAddress) options.localAddress = localAddress;
    this.socket = net.connect(options);
    this.socket.setNoDelay(true);
    this.socket.on('error', (err) => events.error(err));
    this.socket.on('close', () => events.close());
    this.socket.write(t.request);
  }

  /** Sends `text` as one text frame. */
  send(text) {
    this.sendFrame(textFrame(text));
  }

  /** Writes an already framed Buffer (constant frames are built once by the caller). */
  sendFrame(frame) {
    if (!this.socket.destroyed) this.socket.write(frame);
  }

  /**
   * Starts a clean close: a close frame, then the end of our side of the TCP stream; the
   * server closes its side (§7.1.1), or the socket is dropped after CLOSE_TIMEOUT_MS.
   */
  close() {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.end(CLOSE_FRAME);
    setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS).unref();
  }

  /** Drops the connection at once. */
  terminate() {
    this.socket.destroy();
  }

  fail(err) {
    this.events.error(err);
    this.socket.destroy();
  }

  onRead(chunk, nread) {
    let buf = chunk;
    let end = nread;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk.subarray(0, nread)]);
      end = buf.length;
      this.pending = null;
    }
    let at = 0;
    if (!this.open) {
      at = this.readHandshake(buf, end);
      if (at < 0) return;
    }
    at = this.readFrames(buf, at, end);
    // Keep the incomplete rest: the shared read buffer is overwritten by the next read.
    if (at < end && !this.socket.destroyed) this.pending = Buffer.from(buf.subarray(at, end));
  }

  /** Checks the 101 answer; returns where the frames start, or -1 (wait for more, or failed). */
  readHandshake(buf, end) {
    const headEnd = buf.indexOf(HEAD_END, 0);
    if (headEnd < 0 || headEnd >= end) {
      if (end > MAX_RESPONSE_HEAD_BYTES) {
        this.fail(new HandshakeError(`no end of the HTTP answer to ${this.path} in ${end} bytes`));
      } else {
        this.pending = Buffer.from(buf.subarray(0, end));
      }
      return -1;
    }
    if (buf.indexOf(STATUS_101, 0) !== 0) {
      const status = buf.toString('latin1', 0, Math.min(buf.indexOf('\r\n'), 200));
      this.fail(new HandshakeError(`WebSocket upgrade of ${this.path} refused: ${status}`));
      return -1;
    }
    const accept = buf.indexOf(ACCEPT, 0);
    if (accept < 0 || accept > headEnd) {
      this.fail(new HandshakeError(`WebSocket upgrade of ${this.path}: wrong or missing Sec-WebSocket-Accept`));
      return -1;
    }
    this.open = true;
    return headEnd + HEAD_END.length;
  }

  /** Handles every whole frame in buf[at, end); returns where the first incomplete one starts. */
  readFrames(buf, from, end) {
    let at = from;
    while (end - at >= 2 && !this.socket.destroyed) {
      const b0 = buf[at];
      const b1 = buf[at + 1];
      if (b1 & MASK_BIT) {
        this.fail(new ProtocolError('the server sent a masked frame (RFC 6455 §5.1)'));
        return end;
      }
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (end - at < 4) break;
        len = buf.readUInt16BE(at + 2);
        head = 4;
      } else if (len === 127) {
        if (end - at < 10) break;
        len = buf.readUInt32BE(at + 2) * 0x100000000 + buf.readUInt32BE(at + 6);
        head = 10;
      }
      if (len > MAX_FRAME_BYTES) {
        this.fail(new ProtocolError(`a ${len}-byte frame is more than this client accepts`));
        return end;
      }
      const start = at + head;
      if (end - start < len) break;
      at = start + len;
      this.onFrame(b0, buf, start, at);
    }
    return at;
  }

  onFrame(b0, buf, start, end) {
    const opcode = b0 & 0x0f;
    if (opcode === OP_TEXT || opcode === OP_BINARY || opcode === OP_CONTINUATION) {
      if ((b0 & FIN) && this.fragments === null) {
        this.events.message(buf, start, end);
        return;
      }
      // A fragmented message (§5.4): servers here never send one, but it stays correct.
      this.fragments = this.fragments || [];
      this.fragments.push(Buffer.from(buf.subarray(start, end)));
      if (b0 & FIN) {
        const whole = Buffer.concat(this.fragments);
        this.fragments = null;
        this.events.message(whole, 0, whole.length);
      }
    } else if (end - start > 125) {
      this.fail(new ProtocolError(`a control frame of ${end - start} bytes (at most 125, RFC 6455 §5.5)`));
    } else if (opcode === OP_CLOSE) {
      this.close();
    } else if (opcode === OP_PING) {
      this.sendFrame(pongFrame(buf, start, end));
    }
  }
}

module.exports = { RawWebSocket, HandshakeError, ProtocolError, textFrame };
