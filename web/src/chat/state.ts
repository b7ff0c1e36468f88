/** The chat screen's state as one pure reducer, so every socket event is a plain, testable action. */
import type { ChatMessage, Message, Room, User } from "../types";
import { applyReceipt, fromServer, mergeMessages, messageKey } from "./timeline";

export interface Timeline {
  messages: ChatMessage[];
  hasMore: boolean;
  loading: boolean;
  loaded: boolean;
}

export interface Typist {
  user: User;
  until: number;
}

export interface ChatState {
  me: User;
  rooms: Room[];
  activeRoomId: number | null;
  timelines: Record<number, Timeline>;
  typing: Record<number, Typist[]>;
  online: Record<number, User[]>;
  unread: Record<number, number>;
  /** Public rooms created since this page loaded (`room:created`), for the directory. */
  announced: Room[];
}

export type ChatAction =
  | { type: "rooms/loaded"; rooms: Room[] }
  | { type: "room/upsert"; room: Room }
  | { type: "room/created"; room: Room }
  | { type: "room/removed"; roomId: number }
  | { type: "room/selected"; roomId: number }
  | { type: "history/loading"; roomId: number }
  | { type: "history/failed"; roomId: number }
  | {
      type: "history/loaded";
      roomId: number;
      messages: Message[];
      hasMore: boolean;
      /** `latest`: the newest page (initial load or catch-up); `older`: a page further back. */
      page: "latest" | "older";
    }
  | { type: "message/received"; message: Message }
  | { type: "message/pending"; message: ChatMessage }
  | { type: "message/acked"; roomId: number; clientId: string; id: number; ts: number }
  | { type: "message/failed"; roomId: number; clientId: string; error: string }
  | { type: "receipt"; roomId: number; messageId: number; state: "delivered" | "read" }
  | { type: "typing"; roomId: number; user: User; typing: boolean; until: number }
  | { type: "typing/expire"; now: number }
  | { type: "presence/list"; roomId: number; users: User[] }
  | { type: "presence"; roomId: number; user: User; online: boolean };

const EMPTY: Timeline = { messages: [], hasMore: true, loading: false, loaded: false };

export function initialState(me: User, activeRoomId: number | null): ChatState {
  return {
    me,
    rooms: [],
    activeRoomId,
    timelines: {},
    typing: {},
    online: {},
    unread: {},
    announced: [],
  };
}

function timeline(state: ChatState, roomId: number): Timeline {
  return state.timelines[roomId] ?? EMPTY;
}

function withTimeline(state: ChatState, roomId: number, next: Partial<Timeline>): ChatState {
  return {
    ...state,
    timelines: { ...state.timelines, [roomId]: { ...timeline(state, roomId), ...next } },
  };
}

function updateMessage(
  state: ChatState,
  roomId: number,
  clientId: string,
  change: (m: ChatMessage) => ChatMessage,
): ChatState {
  const key = messageKey(state.me.id, clientId);
  const messages = timeline(state, roomId).messages.map((m) => (m.key === key ? change(m) : m));
  return withTimeline(state, roomId, { messages: mergeMessages([], messages) });
}

function loadedPage(state: ChatState, action: Extract<ChatAction, { type: "history/loaded" }>) {
  const current = timeline(state, action.roomId);
  const page = action.messages.map((m) => fromServer(m, state.me));
  if (action.page === "older") {
    return {
      messages: mergeMessages(current.messages, page),
      hasMore: action.hasMore,
      loading: false,
      loaded: true,
    };
  }
  // A catch-up page that does not reach what we already have leaves a gap: start over from it,
  // keeping only my still-pending messages, and let scrolling back fill in the rest.
  const newestKnown = Math.max(0, ...current.messages.map((m) => m.id ?? 0));
  const oldestInPage = Math.min(...page.map((m) => m.id ?? Number.MAX_SAFE_INTEGER));
  const gap = current.loaded && action.hasMore && oldestInPage > newestKnown + 1;
  const base = gap ? current.messages.filter((m) => m.id === null) : current.messages;
  return {
    messages: mergeMessages(base, page),
    hasMore: current.loaded && !gap ? current.hasMore : action.hasMore,
    loading: false,
    loaded: true,
  };
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case "rooms/loaded":
      return { ...state, rooms: action.rooms };
    case "room/upsert": {
      const exists = state.rooms.some((r) => r.id === action.room.id);
      const rooms = exists
        ? state.rooms.map((r) => (r.id === action.room.id ? { ...r, ...action.room } : r))
        : [...state.rooms, action.room];
      return { ...state, rooms };
    }
    case "room/created":
      return state.announced.some((r) => r.id === action.room.id)
        ? state
        : { ...state, announced: [...state.announced, action.room] };
    case "room/removed":
      return {
        ...state,
        rooms: state.rooms.filter((r) => r.id !== action.roomId),
        activeRoomId: state.activeRoomId === action.roomId ? null : state.activeRoomId,
      };
    case "room/selected":
      return {
        ...state,
        activeRoomId: action.roomId,
        unread: { ...state.unread, [action.roomId]: 0 },
      };
    case "history/loading":
      return withTimeline(state, action.roomId, { loading: true });
    case "history/failed":
      return withTimeline(state, action.roomId, { loading: false });
    case "history/loaded":
      return withTimeline(state, action.roomId, loadedPage(state, action));
    case "message/received": {
      const { message } = action;
      const messages = mergeMessages(timeline(state, message.roomId).messages, [
        fromServer(message, state.me),
      ]);
      const next = withTimeline(state, message.roomId, { messages });
      const typists = (state.typing[message.roomId] ?? []).filter(
        (t) => t.user.id !== message.author.id,
      );
      const unseen = message.author.id !== state.me.id && message.roomId !== state.activeRoomId;
      return {
        ...next,
        typing: { ...state.typing, [message.roomId]: typists },
        unread: unseen
          ? { ...state.unread, [message.roomId]: (state.unread[message.roomId] ?? 0) + 1 }
          : state.unread,
      };
    }
    case "message/pending": {
      const messages = mergeMessages(timeline(state, action.message.roomId).messages, [
        action.message,
      ]);
      return withTimeline(state, action.message.roomId, { messages });
    }
    case "message/acked":
      return updateMessage(state, action.roomId, action.clientId, (m) => ({
        ...m,
        id: action.id,
        ts: action.ts,
        state: m.id === null ? "sent" : m.state,
        error: null,
      }));
    case "message/failed":
      return updateMessage(state, action.roomId, action.clientId, (m) =>
        m.id === null ? { ...m, state: "failed", error: action.error } : m,
      );
    case "receipt": {
      const current = timeline(state, action.roomId);
      const messages = applyReceipt(current.messages, action.messageId, action.state);
      return messages === current.messages
        ? state
        : withTimeline(state, action.roomId, { messages });
    }
    case "typing": {
      const others = (state.typing[action.roomId] ?? []).filter(
        (t) => t.user.id !== action.user.id,
      );
      const typists = action.typing
        ? [...others, { user: action.user, until: action.until }]
        : others;
      return { ...state, typing: { ...state.typing, [action.roomId]: typists } };
    }
    case "typing/expire": {
      let changed = false;
      const typing: Record<number, Typist[]> = {};
      for (const [roomId, typists] of Object.entries(state.typing)) {
        const alive = typists.filter((t) => t.until > action.now);
        changed ||= alive.length !== typists.length;
        typing[Number(roomId)] = alive;
      }
      return changed ? { ...state, typing } : state;
    }
    case "presence/list":
      return { ...state, online: { ...state.online, [action.roomId]: action.users } };
    case "presence": {
      const others = (state.online[action.roomId] ?? []).filter((u) => u.id !== action.user.id);
      const users = action.online ? [...others, action.user] : others;
      return { ...state, online: { ...state.online, [action.roomId]: users } };
    }
  }
}
