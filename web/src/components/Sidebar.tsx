/**
 * My rooms and direct messages, with unread counts, the forms to start either, and the directory
 * of public rooms to join.
 */
import { useState } from "react";
import type { FormEvent } from "react";

import { useSession } from "../auth/SessionContext";
import { useChat } from "../chat/ChatContext";
import { roomTitle } from "../chat/rooms";
import type { Room } from "../types";
import { Avatar } from "./Avatar";
import { RoomDirectory } from "./RoomDirectory";

type Form = "room" | "dm" | null;

function RoomButton({ room, onPick }: { room: Room; onPick: () => void }) {
  const { state } = useChat();
  const title = roomTitle(room, state.me);
  const unread = state.unread[room.id] ?? 0;
  const active = state.activeRoomId === room.id;
  return (
    <li>
      <button
        type="button"
        className={active ? "room room--active" : "room"}
        onClick={onPick}
        aria-current={active ? "page" : undefined}
        data-testid="room-item"
        data-room-name={title}
      >
        {room.kind === "direct" ? (
          <Avatar name={title} size={28} />
        ) : (
          <span className="room__hash" aria-hidden="true">
            {room.kind === "private" ? "🔒" : "#"}
          </span>
        )}
        <span className="room__name">{title}</span>
        {unread > 0 && (
          <span className="badge" data-testid="unread-badge">
            {unread > 99 ? "99+" : unread}
          </span>
        )}
      </button>
    </li>
  );
}

export function Sidebar({ onPicked }: { onPicked: () => void }) {
  const { logout } = useSession();
  const { state, selectRoom, createRoom, openDirect } = useChat();
  const [form, setForm] = useState<Form>(null);
  const [text, setText] = useState("");
  const [isPrivate, setPrivate] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const groups = state.rooms.filter((r) => r.kind !== "direct");
  const directs = state.rooms.filter((r) => r.kind === "direct");

  const open = (next: Form) => {
    setForm(form === next ? null : next);
    setText("");
    setError(null);
  };
  const pick = (roomId: number) => {
    selectRoom(roomId);
    onPicked();
  };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const value = text.trim();
    if (value === "") {
      return;
    }
    try {
      if (form === "room") {
        await createRoom(value, isPrivate ? "private" : "public");
      } else {
        await openDirect(value);
      }
      setForm(null);
      setText("");
      onPicked();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  const inlineForm = (
    <form className="sidebar__form" onSubmit={(e) => void submit(e)}>
      <input
        autoFocus
        placeholder={form === "room" ? "Room name" : "Username"}
        value={text}
        onChange={(e) => setText(e.target.value)}
        data-testid={form === "room" ? "new-room-name" : "new-dm-username"}
      />
      {form === "room" && (
        <label className="check">
          <input
            type="checkbox"
            checked={isPrivate}
            onChange={(e) => setPrivate(e.target.checked)}
          />
          Private
        </label>
      )}
      <button
        className="button button--primary button--small"
        data-testid={form === "room" ? "new-room-submit" : "new-dm-submit"}
      >
        {form === "room" ? "Create" : "Open"}
      </button>
      {error !== null && (
        <p className="sidebar__error" role="alert">
          {error}
        </p>
      )}
    </form>
  );

  return (
    <nav className="sidebar" aria-label="Conversations">
      <div className="sidebar__top">
        <div className="brand">
          <span className="brand__mark">b</span> Baatcheet
        </div>
      </div>
      <div className="sidebar__scroll">
        <div className="sidebar__heading">
          <span>Rooms</span>
          <button
            type="button"
            className="icon-button"
            onClick={() => open("room")}
            aria-label="New room"
            data-testid="new-room-button"
          >
            +
          </button>
        </div>
        {form === "room" && inlineForm}
        <ul className="sidebar__list" data-testid="room-list">
          {groups.map((room) => (
            <RoomButton key={room.id} room={room} onPick={() => pick(room.id)} />
          ))}
          {groups.length === 0 && (
            <li className="sidebar__empty">No rooms yet — create or join one.</li>
          )}
        </ul>
        <div className="sidebar__heading">
          <span>Public rooms</span>
        </div>
        <RoomDirectory onPicked={onPicked} />
        <div className="sidebar__heading">
          <span>Direct messages</span>
          <button
            type="button"
            className="icon-button"
            onClick={() => open("dm")}
            aria-label="New direct message"
            data-testid="new-dm-button"
          >
            +
          </button>
        </div>
        {form === "dm" && inlineForm}
        <ul className="sidebar__list">
          {directs.map((room) => (
            <RoomButton key={room.id} room={room} onPick={() => pick(room.id)} />
          ))}
          {directs.length === 0 && <li className="sidebar__empty">Message someone by username.</li>}
        </ul>
      </div>
      <div className="sidebar__me">
        <Avatar name={state.me.username} size={32} online />
        <span className="sidebar__username" data-testid="me">
          {state.me.username}
        </span>
        <button type="button" className="link-button" onClick={logout} data-testid="logout-button">
          Sign out
        </button>
      </div>
    </nav>
  );
}
