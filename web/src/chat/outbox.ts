/**
 * Messages the server has not acknowledged yet, kept in localStorage per user so that a message
 * typed while offline survives a reload and is still sent once the connection is back. Each entry
 * keeps its clientId for life: resending it is safe because the server deduplicates on it.
 */
export interface OutboxEntry {
  roomId: number;
  body: string;
  clientId: string;
  ts: number;
}

function storageKey(userId: number): string {
  return `baatcheet.outbox.${String(userId)}`;
}

export function loadOutbox(userId: number): OutboxEntry[] {
  try {
    const raw = localStorage.getItem(storageKey(userId));
    return raw === null ? [] : (JSON.parse(raw) as OutboxEntry[]);
  } catch {
    return [];
  }
}

export function saveOutbox(userId: number, entries: OutboxEntry[]): void {
  if (entries.length === 0) {
    localStorage.removeItem(storageKey(userId));
  } else {
    localStorage.setItem(storageKey(userId), JSON.stringify(entries));
  }
}
