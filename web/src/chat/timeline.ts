/**
 * Pure helpers for one room's message list. Confirmed messages and my pending ones share a key
 * (author + clientId), so the server's copy of a message replaces the optimistic one in place,
 * whichever of `message:new` and the ack arrives first.
 */
import type { ChatMessage, DeliveryState, Message, User } from "../types";

const RANK: Record<DeliveryState, number> = {
  failed: 0,
  sending: 0,
  sent: 1,
  delivered: 2,
  read: 3,
};

export function messageKey(authorId: number, clientId: string): string {
  return `${String(authorId)}:${clientId}`;
}

/** The furthest of two states; a confirmed message can no longer be `sending` or `failed`. */
export function laterState(a: DeliveryState | null, b: DeliveryState | null): DeliveryState | null {
  if (a === null) {
    return b;
  }
  if (b === null) {
    return a;
  }
  return RANK[b] > RANK[a] ? b : a;
}

export function fromServer(message: Message, me: User): ChatMessage {
  return {
    key: messageKey(message.author.id, message.clientId),
    id: message.id,
    roomId: message.roomId,
    author: message.author,
    body: message.body,
    clientId: message.clientId,
    ts: message.ts,
    state: message.author.id === me.id ? "sent" : null,
    error: null,
  };
}

function merge(old: ChatMessage, incoming: ChatMessage): ChatMessage {
  if (incoming.id === null) {
    return old.id === null ? incoming : old;
  }
  return {
    ...incoming,
    state: old.id === null ? incoming.state : laterState(old.state, incoming.state),
    error: null,
  };
}

function compare(a: ChatMessage, b: ChatMessage): number {
  // Pending messages stay at the bottom, in the order they were typed.
  const ai = a.id ?? Number.MAX_SAFE_INTEGER;
  const bi = b.id ?? Number.MAX_SAFE_INTEGER;
  return ai === bi ? a.ts - b.ts : ai - bi;
}

/** Union of two lists, keyed by message, sorted oldest first. */
export function mergeMessages(existing: ChatMessage[], incoming: ChatMessage[]): ChatMessage[] {
  const byKey = new Map(existing.map((m) => [m.key, m]));
  for (const message of incoming) {
    const old = byKey.get(message.key);
    byKey.set(message.key, old === undefined ? message : merge(old, message));
  }
  return [...byKey.values()].sort(compare);
}

/** Raise my messages up to `messageId` to `state` (a receipt acknowledges everything before it). */
export function applyReceipt(
  messages: ChatMessage[],
  messageId: number,
  state: "delivered" | "read",
): ChatMessage[] {
  let changed = false;
  const next = messages.map((m) => {
    if (m.state === null || m.id === null || m.id > messageId) {
      return m;
    }
    const raised = laterState(m.state, state);
    if (raised === m.state) {
      return m;
    }
    changed = true;
    return { ...m, state: raised };
  });
  return changed ? next : messages;
}
