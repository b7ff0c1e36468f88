/** Wire shapes of the chat protocol (docs/reference/chat-events.md), plus client-only view state. */

export interface User {
  id: number;
  username: string;
}

export type RoomKind = "public" | "private" | "direct";

export interface Room {
  id: number;
  name: string;
  kind: RoomKind;
  members?: User[];
}

/** One page of `rooms:list` (or `GET /api/rooms`); pass `nextCursor` back for the next. */
export interface RoomPage {
  rooms: Room[];
  nextCursor: string | null;
}

export interface Message {
  id: number;
  roomId: number;
  author: User;
  body: string;
  clientId: string;
  ts: number;
}

/** The answer to `history:fetch` (and `GET /api/rooms/{id}/messages`). */
export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
  /** How far the room's other members got: my messages up to these ids are delivered / read. */
  receipts: { deliveredUpTo: number; readUpTo: number };
}

export interface AckError {
  code: string;
  message: string;
}

/** Every client→server event is acknowledged with this envelope. */
export type Ack<T> = ({ ok: true } & T) | { ok: false; error: AckError };

export interface Session {
  user: User;
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
}

/**
 * Where one of my messages is on its way to the other people in the room.
 * Ordered: a message only ever moves right, except `failed`, which a retry turns back into `sending`.
 */
export type DeliveryState = "sending" | "sent" | "delivered" | "read" | "failed";

/** A message as the UI shows it: either confirmed by the server (`id` set) or still pending. */
export interface ChatMessage {
  key: string;
  id: number | null;
  roomId: number;
  author: User;
  body: string;
  clientId: string;
  ts: number;
  /** Only set for my own messages. */
  state: DeliveryState | null;
  error: string | null;
}

export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "offline";
