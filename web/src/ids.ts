/**
 * A fresh client message id. The server deduplicates `message:send` by it, so it must be unique per
 * message and stay the same across retries. `crypto.randomUUID` needs a secure context, which a
 * plain-http LAN address is not, hence the fallback built from `getRandomValues`.
 */
export function newClientId(): string {
  if (typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
