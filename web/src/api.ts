/** The REST half of the protocol: account creation, login and token refresh. */
import type { Session, User } from "./types";

/** A REST call that the server answered with an error body (or did not answer at all). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

interface TokenAnswer {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
}

async function postJson<T>(path: string, body: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(
      0,
      "network",
      "Cannot reach the server. Check your connection and try again.",
    );
  }
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? "http_" + String(response.status),
      error?.message ?? `The server answered ${String(response.status)}.`,
    );
  }
  return data as T;
}

export async function register(username: string, password: string): Promise<Session> {
  return postJson<Session>("/api/auth/register", { username, password });
}

export async function login(username: string, password: string): Promise<Session> {
  return postJson<Session>("/api/auth/login", { username, password });
}

/** Trade a refresh token for a new token pair; the user stays the same. */
export async function refresh(user: User, refreshToken: string): Promise<Session> {
  const answer = await postJson<TokenAnswer>("/api/auth/refresh", { refreshToken });
  return { user, ...answer };
}

/** `expiresAt` as epoch milliseconds, whether the server sent seconds or milliseconds. */
export function expiresAtMs(session: Session): number {
  return session.expiresAt < 1e12 ? session.expiresAt * 1000 : session.expiresAt;
}
