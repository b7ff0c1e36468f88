/**
 * The one shared Socket.IO connection of the app, handed out through context (`useSocket`), so no
 * component ever opens a second connection by accident.
 *
 * The provider owns everything about staying connected: the handshake reads the *current* access
 * token on every attempt; "token expired" and `session:expired` trigger a refresh and a reconnect;
 * "invalid token" logs out; a server-side disconnect (which socket.io-client never retries on its
 * own) is retried with back-off. It also derives the status pill's state.
 */
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import type { ReactNode } from "react";
import { io } from "socket.io-client";
import type { Socket } from "socket.io-client";

import { expiresAtMs } from "../api";
import { useSession } from "../auth/SessionContext";
import type { ConnectionStatus } from "../types";
import { request } from "./request";

/** After this many failed attempts in a row the pill says "offline" (retries continue). */
const OFFLINE_AFTER_FAILURES = 6;
/**
 * Refresh the access token this long before it expires, without dropping the connection —
 * or, for short-lived tokens, when a quarter of its remaining life is left.
 */
const REFRESH_MARGIN_MS = 60_000;
const REFRESH_SHARE = 0.25;

export interface SocketApi {
  socket: Socket;
  status: ConnectionStatus;
  /** Skip the back-off wait and try to connect right away. */
  retryNow(): void;
}

const SocketContext = createContext<SocketApi | null>(null);

function backoffMs(failures: number): number {
  return Math.min(500 * 2 ** failures, 5_000);
}

export function SocketProvider({ children }: { children: ReactNode }) {
  const { session, refreshSession, logout } = useSession();
  const [socket, setSocket] = useState<Socket | null>(null);
  const [status, setStatus] = useState<ConnectionStatus>("connecting");
  const tokenRef = useRef(session?.accessToken ?? "");
  const userId = session?.user.id ?? null;

  useEffect(() => {
    tokenRef.current = session?.accessToken ?? "";
  }, [session]);

  useEffect(() => {
    if (userId === null) {
      return undefined;
    }
    const s = io("/chat", {
      auth: (cb) => cb({ token: tokenRef.current }),
      reconnectionDelay: 500,
      reconnectionDelayMax: 3_000,
    });
    let failures = 0;
    let everConnected = false;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const update = () => {
      if (s.connected) {
        setStatus("connected");
      } else if (!navigator.onLine || failures >= OFFLINE_AFTER_FAILURES) {
        setStatus("offline");
      } else {
        setStatus(everConnected ? "reconnecting" : "connecting");
      }
    };
    const reconnectSoon = (delay: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!stopped && !s.connected) {
          s.connect();
        }
      }, delay);
    };
    const refreshThenReconnect = () => {
      refreshSession().then(
        (token) => {
          tokenRef.current = token;
          reconnectSoon(0);
        },
        () => reconnectSoon(backoffMs(failures)),
      );
    };

    s.on("connect", () => {
      failures = 0;
      everConnected = true;
      update();
    });
    s.on("disconnect", (reason) => {
      update();
      // The client library retries transport losses itself, but not a disconnect the server
      // asked for (session expiry, shutdown, kick): retry those here, through the auth check.
      if (reason === "io server disconnect") {
        reconnectSoon(backoffMs(0));
      }
    });
    s.on("connect_error", (error) => {
      failures += 1;
      update();
      if (error.message === "token expired") {
        refreshThenReconnect();
      } else if (error.message === "invalid token") {
        logout();
      } else if (!s.active) {
        reconnectSoon(backoffMs(failures));
      }
    });
    // The server disconnects us right after this event; the refreshed token is then used by
    // the reconnect that the "io server disconnect" branch above schedules.
    s.on("session:expired", () => {
      refreshSession().then(
        (token) => {
          tokenRef.current = token;
        },
        () => undefined,
      );
    });
    s.io.on("reconnect_attempt", update);
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    setSocket(s);
    setStatus("connecting");

    return () => {
      stopped = true;
      clearTimeout(timer);
      window.removeEventListener("online", update);
      window.removeEventListener("offline", update);
      s.removeAllListeners();
      s.io.off("reconnect_attempt", update);
      s.disconnect();
      setSocket(null);
    };
  }, [userId, refreshSession, logout]);

  // Keep a long-lived connection authorised: refresh shortly before expiry and hand the new
  // token to the open socket, so the server never has to cut it off.
  const expiresAt = session === null ? null : expiresAtMs(session);
  useEffect(() => {
    if (socket === null || expiresAt === null) {
      return undefined;
    }
    const remaining = expiresAt - Date.now();
    const margin = Math.min(REFRESH_MARGIN_MS, remaining * REFRESH_SHARE);
    const delay = Math.max(remaining - margin, 1_000);
    const timer = setTimeout(() => {
      refreshSession().then(
        (token) => {
          tokenRef.current = token;
          if (socket.connected) {
            request(socket, "auth:refresh", { token }).catch(() => undefined);
          }
        },
        () => undefined,
      );
    }, delay);
    return () => clearTimeout(timer);
  }, [socket, expiresAt, refreshSession]);

  const retryNow = useCallback(() => {
    if (socket !== null && !socket.connected) {
      socket.disconnect().connect();
    }
  }, [socket]);

  const value = useMemo<SocketApi | null>(
    () => (socket === null ? null : { socket, status, retryNow }),
    [socket, status, retryNow],
  );

  return value === null ? null : (
    <SocketContext.Provider value={value}>{children}</SocketContext.Provider>
  );
}

export function useSocket(): SocketApi {
  const value = useContext(SocketContext);
  if (value === null) {
    throw new Error("useSocket() must be used inside <SocketProvider>.");
  }
  return value;
}
