/**
 * Wires the shared socket to the chat state: listens to server events (with cleanup on unmount,
 * so a remount never leaves a duplicate listener behind), loads rooms and history, and owns the
 * outbox that turns "typed while offline" into "sent after reconnect".
 */
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useReducer,
  useRef,
} from "react";
import type { ReactNode } from "react";
import type { Socket } from "socket.io-client";

import { newClientId } from "../ids";
import { RequestError, request } from "../socket/request";
import { useSocket } from "../socket/SocketContext";
import type { HistoryPage, Message, Room, RoomPage, User } from "../types";
import { loadOutbox, saveOutbox } from "./outbox";
import type { OutboxEntry } from "./outbox";
import { chatReducer, initialState } from "./state";
import type { ChatState } from "./state";
import { messageKey } from "./timeline";

const PAGE_SIZE = 30;
const SEND_TIMEOUT_MS = 8_000;
const RESEND_DELAY_MS = 3_000;
/** A typing line lasts this long without a fresh `typing` event (the server's expiry is 5 s). */
const TYPING_TTL_MS = 6_000;
/** While the user keeps typing, re-announce it this often. */
const TYPING_REPEAT_MS = 3_000;
/** Stop announcing after this long without a keystroke. */
const TYPING_IDLE_MS = 2_500;
/** Per user, so two accounts used in one browser do not reopen each other's room. */
function lastRoomKey(userId: number): string {
  return `baatcheet.lastRoom.${String(userId)}`;
}

/** Errors that mean "try again later" rather than "this message can never be sent". */
const TRANSIENT = new Set(["timeout", "unavailable"]);

export interface ChatApi {
  state: ChatState;
  selectRoom(roomId: number): void;
  loadOlder(roomId: number): void;
  send(roomId: number, body: string): void;
  retry(roomId: number, clientId: string): void;
  createRoom(name: string, kind: "public" | "private"): Promise<void>;
  openDirect(username: string): Promise<void>;
  /** One page of the public room directory, names starting with `query` (any case). */
  browseRooms(query: string, cursor: string | null): Promise<RoomPage>;
  /** Join a public room from the directory and show it. */
  joinRoom(room: Room): Promise<void>;
  /** Stop being a member of a room; it leaves the sidebar. */
  leaveRoom(roomId: number): Promise<void>;
  keystroke(roomId: number): void;
  stopTyping(roomId: number): void;
  markRead(roomId: number): void;
}

const ChatContext = createContext<ChatApi | null>(null);

/**
 * Every room I am a member of: `rooms:list` answers a page at a time, so follow the cursor.
 * (A user in thousands of rooms pays for them here, once per connection; nobody else does.)
 */
async function loadJoinedRooms(socket: Socket): Promise<Room[]> {
  const rooms: Room[] = [];
  let cursor: string | null = null;
  do {
    const payload: { scope: string; cursor?: string } = { scope: "joined" };
    if (cursor !== null) {
      payload.cursor = cursor;
    }
    const page: RoomPage = await request<RoomPage>(socket, "rooms:list", payload);
    rooms.push(...page.rooms);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return rooms;
}

function isVisible(): boolean {
  return document.visibilityState === "visible";
}

function roomsKey(userId: number): string {
  return `baatcheet.rooms.${String(userId)}`;
}

/** The room list from last time, so the app can show a room (and its queued messages) offline. */
function savedRooms(userId: number): Room[] {
  try {
    const raw = localStorage.getItem(roomsKey(userId));
    return raw === null ? [] : (JSON.parse(raw) as Room[]);
  } catch {
    return [];
  }
}

function savedRoom(userId: number): number | null {
  const raw = localStorage.getItem(lastRoomKey(userId));
  return raw === null ? null : Number(raw);
}

export function ChatProvider({ me, children }: { me: User; children: ReactNode }) {
  const { socket } = useSocket();
  const [state, dispatch] = useReducer(chatReducer, null, () => ({
    ...initialState(me, savedRoom(me.id)),
    rooms: savedRooms(me.id),
  }));
  const stateRef = useRef(state);
  const outbox = useRef<OutboxEntry[]>(loadOutbox(me.id));
  const flushing = useRef(false);
  const readSent = useRef(new Set<number>());
  const typingSent = useRef(new Map<number, number>());
  const typingIdle = useRef(new Map<number, ReturnType<typeof setTimeout>>());

  useEffect(() => {
    stateRef.current = state;
  }, [state]);

  useEffect(() => {
    localStorage.setItem(roomsKey(me.id), JSON.stringify(state.rooms));
  }, [me.id, state.rooms]);

  const storeOutbox = useCallback(
    (entries: OutboxEntry[]) => {
      outbox.current = entries;
      saveOutbox(me.id, entries);
    },
    [me.id],
  );

  const flush = useCallback(async () => {
    if (flushing.current) {
      return;
    }
    flushing.current = true;
    try {
      // One at a time, in typing order, so the room sees them in the order they were written.
      while (socket.connected) {
        const entry = outbox.current[0];
        if (entry === undefined) {
          break;
        }
        const { roomId, body, clientId } = entry;
        try {
          const ack = await request<{ id: number; ts: number }>(
            socket,
            "message:send",
            { roomId, body, clientId },
            SEND_TIMEOUT_MS,
          );
          dispatch({ type: "message/acked", roomId, clientId, id: ack.id, ts: ack.ts });
        } catch (error) {
          const code = error instanceof RequestError ? error.code : "timeout";
          if (TRANSIENT.has(code)) {
            // Keep it queued; a reconnect flushes again, and so does this timer if we stay up.
            setTimeout(() => void flush(), RESEND_DELAY_MS);
            break;
          }
          const message = error instanceof Error ? error.message : String(error);
          dispatch({ type: "message/failed", roomId, clientId, error: message });
        }
        storeOutbox(outbox.current.filter((e) => e.clientId !== clientId));
      }
    } finally {
      flushing.current = false;
    }
  }, [socket, storeOutbox]);

  /** Show a fetched page, then raise my messages to the states the stored receipts prove. */
  const loaded = useCallback((roomId: number, page: HistoryPage, which: "latest" | "older") => {
    const { messages, hasMore, receipts } = page;
    dispatch({ type: "history/loaded", roomId, messages, hasMore, page: which });
    if (receipts.deliveredUpTo > 0) {
      dispatch({ type: "receipt", roomId, messageId: receipts.deliveredUpTo, state: "delivered" });
    }
    if (receipts.readUpTo > 0) {
      dispatch({ type: "receipt", roomId, messageId: receipts.readUpTo, state: "read" });
    }
  }, []);

  const loadLatest = useCallback(
    (roomId: number) => {
      dispatch({ type: "history/loading", roomId });
      request<HistoryPage>(socket, "history:fetch", { roomId, limit: PAGE_SIZE }).then(
        (page) => loaded(roomId, page, "latest"),
        () => dispatch({ type: "history/failed", roomId }),
      );
      request<{ users: User[] }>(socket, "presence:list", { roomId }).then(
        ({ users }) => dispatch({ type: "presence/list", roomId, users }),
        () => undefined,
      );
    },
    [socket],
  );

  const markRead = useCallback(
    (roomId: number) => {
      if (!isVisible() || !socket.connected) {
        return;
      }
      const messages = stateRef.current.timelines[roomId]?.messages ?? [];
      const newest = messages.findLast((m) => m.id !== null && m.author.id !== me.id);
      if (newest?.id == null || readSent.current.has(newest.id)) {
        return;
      }
      readSent.current.add(newest.id);
      request(socket, "receipt:read", { roomId, messageId: newest.id }).catch(() => undefined);
    },
    [socket, me.id],
  );

  // Server → client events. Handlers read state through a ref so they are registered once.
  useEffect(() => {
    const onConnect = () => {
      loadJoinedRooms(socket).then(
        (rooms) => {
          dispatch({ type: "rooms/loaded", rooms });
          // Reopen the room the user was in, or the first one so the screen is never empty.
          const active = stateRef.current.activeRoomId;
          const room = rooms.find((r) => r.id === active) ?? rooms[0];
          if (room === undefined) {
            return;
          }
          if (room.id !== active) {
            localStorage.setItem(lastRoomKey(me.id), String(room.id));
            dispatch({ type: "room/selected", roomId: room.id });
          }
          if (room.kind !== "direct") {
            request(socket, "room:join", { roomId: room.id }).catch(() => undefined);
          }
          loadLatest(room.id);
        },
        () => undefined,
      );
      void flush();
    };
    const onMessage = (message: Message) => {
      dispatch({ type: "message/received", message });
      if (message.author.id === me.id) {
        return;
      }
      const { roomId, id } = message;
      // A read receipt implies delivered, so a message read on arrival costs one receipt.
      if (roomId === stateRef.current.activeRoomId && isVisible()) {
        readSent.current.add(id);
        request(socket, "receipt:read", { roomId, messageId: id }).catch(() => undefined);
      } else {
        request(socket, "receipt:delivered", { roomId, messageId: id }).catch(() => undefined);
      }
    };
    const onTyping = (event: { roomId: number; user: User; typing: boolean }) => {
      if (event.user.id !== me.id) {
        dispatch({ type: "typing", ...event, until: Date.now() + TYPING_TTL_MS });
      }
    };
    const onReceipt = (event: {
      roomId: number;
      messageId: number;
      user: User;
      state: "delivered" | "read";
    }) => {
      if (event.user.id !== me.id) {
        const { roomId, messageId, state: receiptState } = event;
        dispatch({ type: "receipt", roomId, messageId, state: receiptState });
      }
    };
    const onPresence = (event: { roomId: number; user: User; online: boolean }) =>
      dispatch({ type: "presence", ...event });
    const onRoomUpdated = (room: Room) => dispatch({ type: "room/upsert", room });
    const onRoomCreated = (room: Room) => dispatch({ type: "room/created", room });

    socket.on("connect", onConnect);
    socket.on("message:new", onMessage);
    socket.on("typing", onTyping);
    socket.on("receipt", onReceipt);
    socket.on("presence", onPresence);
    socket.on("room:updated", onRoomUpdated);
    socket.on("room:created", onRoomCreated);
    if (socket.connected) {
      onConnect();
    }
    const expiry = setInterval(() => dispatch({ type: "typing/expire", now: Date.now() }), 1_000);
    return () => {
      socket.off("connect", onConnect);
      socket.off("message:new", onMessage);
      socket.off("typing", onTyping);
      socket.off("receipt", onReceipt);
      socket.off("presence", onPresence);
      socket.off("room:updated", onRoomUpdated);
      socket.off("room:created", onRoomCreated);
      clearInterval(expiry);
    };
  }, [socket, me.id, flush, loadLatest]);

  // My pending messages from a previous page load show up again, still "sending".
  useEffect(() => {
    for (const entry of outbox.current) {
      dispatch({
        type: "message/pending",
        message: {
          key: messageKey(me.id, entry.clientId),
          id: null,
          author: me,
          state: "sending",
          error: null,
          ...entry,
        },
      });
    }
  }, [me]);

  const selectRoom = useCallback(
    (roomId: number) => {
      localStorage.setItem(lastRoomKey(me.id), String(roomId));
      dispatch({ type: "room/selected", roomId });
      const room = stateRef.current.rooms.find((r) => r.id === roomId);
      if (room !== undefined && room.kind !== "direct") {
        request(socket, "room:join", { roomId }).catch(() => undefined);
      }
      loadLatest(roomId);
    },
    [socket, loadLatest, me.id],
  );

  const loadOlder = useCallback(
    (roomId: number) => {
      const timeline = stateRef.current.timelines[roomId];
      if (timeline === undefined || timeline.loading || !timeline.hasMore) {
        return;
      }
      const oldest = timeline.messages.find((m) => m.id !== null)?.id;
      if (oldest == null) {
        return;
      }
      dispatch({ type: "history/loading", roomId });
      request<HistoryPage>(socket, "history:fetch", {
        roomId,
        before: oldest,
        limit: PAGE_SIZE,
      }).then(
        (page) => loaded(roomId, page, "older"),
        () => dispatch({ type: "history/failed", roomId }),
      );
    },
    [socket, loaded],
  );

  const enqueue = useCallback(
    (entry: OutboxEntry) => {
      dispatch({
        type: "message/pending",
        message: {
          key: messageKey(me.id, entry.clientId),
          id: null,
          author: me,
          state: "sending",
          error: null,
          ...entry,
        },
      });
      storeOutbox([...outbox.current.filter((e) => e.clientId !== entry.clientId), entry]);
      void flush();
    },
    [me, storeOutbox, flush],
  );

  const stopTyping = useCallback(
    (roomId: number) => {
      clearTimeout(typingIdle.current.get(roomId));
      typingIdle.current.delete(roomId);
      if (typingSent.current.delete(roomId) && socket.connected) {
        request(socket, "typing:stop", { roomId }).catch(() => undefined);
      }
    },
    [socket],
  );

  const send = useCallback(
    (roomId: number, body: string) => {
      stopTyping(roomId);
      enqueue({ roomId, body, clientId: newClientId(), ts: Date.now() });
    },
    [enqueue, stopTyping],
  );

  const retry = useCallback(
    (roomId: number, clientId: string) => {
      const message = stateRef.current.timelines[roomId]?.messages.find(
        (m) => m.clientId === clientId && m.author.id === me.id,
      );
      if (message !== undefined) {
        enqueue({ roomId, body: message.body, clientId, ts: message.ts });
      }
    },
    [enqueue, me.id],
  );

  const keystroke = useCallback(
    (roomId: number) => {
      const now = Date.now();
      const last = typingSent.current.get(roomId) ?? 0;
      if (now - last > TYPING_REPEAT_MS && socket.connected) {
        typingSent.current.set(roomId, now);
        request(socket, "typing:start", { roomId }).catch(() => undefined);
      }
      clearTimeout(typingIdle.current.get(roomId));
      typingIdle.current.set(
        roomId,
        setTimeout(() => stopTyping(roomId), TYPING_IDLE_MS),
      );
    },
    [socket, stopTyping],
  );

  const createRoom = useCallback(
    async (name: string, kind: "public" | "private") => {
      const { room } = await request<{ room: Room }>(socket, "room:create", { name, kind });
      dispatch({ type: "room/upsert", room });
      selectRoom(room.id);
    },
    [socket, selectRoom],
  );

  const openDirect = useCallback(
    async (username: string) => {
      const { room } = await request<{ room: Room }>(socket, "dm:open", { username });
      dispatch({ type: "room/upsert", room });
      selectRoom(room.id);
    },
    [socket, selectRoom],
  );

  const browseRooms = useCallback(
    (query: string, cursor: string | null) => {
      const payload: { scope: string; query: string; cursor?: string } = {
        scope: "public",
        query,
      };
      if (cursor !== null) {
        payload.cursor = cursor;
      }
      return request<RoomPage>(socket, "rooms:list", payload);
    },
    [socket],
  );

  const joinRoom = useCallback(
    async (room: Room) => {
      const joined = await request<{ room: Room }>(socket, "room:join", { roomId: room.id });
      dispatch({ type: "room/upsert", room: joined.room });
      selectRoom(joined.room.id);
    },
    [socket, selectRoom],
  );

  const leaveRoom = useCallback(
    async (roomId: number) => {
      await request(socket, "room:leave", { roomId });
      if (stateRef.current.activeRoomId === roomId) {
        localStorage.removeItem(lastRoomKey(me.id));
      }
      dispatch({ type: "room/removed", roomId });
    },
    [socket, me.id],
  );

  const value = useMemo<ChatApi>(
    () => ({
      state,
      selectRoom,
      loadOlder,
      send,
      retry,
      createRoom,
      openDirect,
      browseRooms,
      joinRoom,
      leaveRoom,
      keystroke,
      stopTyping,
      markRead,
    }),
    [
      state,
      selectRoom,
      loadOlder,
      send,
      retry,
      createRoom,
      openDirect,
      browseRooms,
      joinRoom,
      leaveRoom,
      keystroke,
      stopTyping,
      markRead,
    ],
  );

  return <ChatContext.Provider value={value}>{children}</ChatContext.Provider>;
}

export function useChat(): ChatApi {
  const value = useContext(ChatContext);
  if (value === null) {
    throw new Error("useChat() must be used inside <ChatProvider>.");
  }
  return value;
}
