/** Promise-shaped client→server events: every chat event is acknowledged with `{ok, ...}`. */
import type { Socket } from "socket.io-client";

import type { Ack } from "../types";

/** The server refused a request (`code` from the protocol), or it went unanswered (`timeout`). */
export class RequestError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "RequestError";
    this.code = code;
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;

export function request<T extends object>(
  socket: Socket,
  event: string,
  payload: object,
  timeoutMs: number = DEFAULT_TIMEOUT_MS,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    socket.timeout(timeoutMs).emit(event, payload, (err: Error | null, ack: Ack<T> | undefined) => {
      if (err !== null) {
        reject(new RequestError("timeout", `The server did not answer "${event}" in time.`));
      } else if (ack === undefined) {
        reject(new RequestError("invalid", `The server answered "${event}" without a result.`));
      } else if (ack.ok) {
        resolve(ack);
      } else {
        reject(new RequestError(ack.error.code, ack.error.message));
      }
    });
  });
}
