/**
 * Who is logged in. The session (user + token pair) lives in localStorage so a reload keeps the
 * user signed in; `refreshSession` is single-flight because the socket and a timer may both ask
 * for a refresh at the same moment, and a refresh token must only be spent once.
 */
import { createContext, useCallback, useContext, useMemo, useRef, useState } from "react";
import type { ReactNode } from "react";

import * as api from "../api";
import type { Session } from "../types";

const STORAGE_PREFIX = "baatcheet.";
const STORAGE_KEY = `${STORAGE_PREFIX}session`;

export interface SessionApi {
  session: Session | null;
  login(username: string, password: string): Promise<void>;
  register(username: string, password: string): Promise<void>;
  /** Returns the new access token; logs out if the refresh token is no longer accepted. */
  refreshSession(): Promise<string>;
  logout(): void;
}

const SessionContext = createContext<SessionApi | null>(null);

function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    return raw === null ? null : (JSON.parse(raw) as Session);
  } catch {
    return null;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(loadSession);
  const sessionRef = useRef(session);
  const inflight = useRef<Promise<string> | null>(null);

  const store = useCallback((next: Session | null) => {
    sessionRef.current = next;
    if (next === null) {
      localStorage.removeItem(STORAGE_KEY);
    } else {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    }
    setSession(next);
  }, []);

  // Signing out also forgets what this browser cached for the user (rooms, unsent messages).
  const logout = useCallback(() => {
    for (const key of Object.keys(localStorage)) {
      if (key.startsWith(STORAGE_PREFIX)) {
        localStorage.removeItem(key);
      }
    }
    store(null);
  }, [store]);

  const refreshSession = useCallback((): Promise<string> => {
    if (inflight.current !== null) {
      return inflight.current;
    }
    const current = sessionRef.current;
    if (current === null) {
      return Promise.reject(new Error("Not logged in."));
    }
    const attempt = api
      .refresh(current.user, current.refreshToken)
      .then((next) => {
        store(next);
        return next.accessToken;
      })
      .catch((error: unknown) => {
        // A 401 means the refresh token is gone for good; anything else (server down) may pass.
        if (error instanceof api.ApiError && error.status === 401) {
          store(null);
        }
        throw error;
      })
      .finally(() => {
        inflight.current = null;
      });
    inflight.current = attempt;
    return attempt;
  }, [store]);

  const value = useMemo<SessionApi>(
    () => ({
      session,
      login: async (username, password) => store(await api.login(username, password)),
      register: async (username, password) => store(await api.register(username, password)),
      refreshSession,
      logout,
    }),
    [session, store, refreshSession, logout],
  );

  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionApi {
  const value = useContext(SessionContext);
  if (value === null) {
    throw new Error("useSession() must be used inside <SessionProvider>.");
  }
  return value;
}
