/** The open conversation: header (name, who is here, connection), messages, typing line, composer. */
import { useChat } from "../chat/ChatContext";
import { roomTitle } from "../chat/rooms";
import { useSocket } from "../socket/SocketContext";
import { Composer } from "./Composer";
import { ConnectionStatus } from "./ConnectionStatus";
import { MessageList } from "./MessageList";
import { PresenceStack } from "./PresenceStack";
import { TypingLine } from "./TypingLine";

const NO_TIMELINE = { messages: [], hasMore: true, loading: true, loaded: false };

export function ChatView({ onMenu }: { onMenu: () => void }) {
  const { state, leaveRoom } = useChat();
  const { status } = useSocket();
  const room = state.rooms.find((r) => r.id === state.activeRoomId);
  const title = room === undefined ? "" : roomTitle(room, state.me);

  return (
    <main className="chat">
      <header className="chat__header">
        <button
          type="button"
          className="icon-button chat__menu"
          onClick={onMenu}
          aria-label="Show conversations"
        >
          ☰
        </button>
        <div className="chat__title">
          {room !== undefined && (
            <>
              <h1 data-testid="room-title">
                {room.kind === "direct" ? "" : room.kind === "private" ? "🔒 " : "# "}
                {title}
              </h1>
              <PresenceStack users={state.online[room.id] ?? []} stale={status !== "connected"} />
              <button
                type="button"
                className="link-button"
                onClick={() => void leaveRoom(room.id).catch(() => undefined)}
                disabled={status !== "connected"}
                data-testid="leave-room"
              >
                Leave
              </button>
            </>
          )}
        </div>
        <ConnectionStatus />
      </header>
      {room === undefined ? (
        <section className="chat__welcome">
          <h2>Welcome, {state.me.username}</h2>
          <p>Pick a room on the left, create one, or message someone directly.</p>
        </section>
      ) : (
        <>
          <MessageList
            key={`list-${String(room.id)}`}
            roomId={room.id}
            timeline={state.timelines[room.id] ?? NO_TIMELINE}
          />
          <TypingLine typists={state.typing[room.id] ?? []} />
          <Composer
            key={`composer-${String(room.id)}`}
            roomId={room.id}
            placeholder={`Message ${room.kind === "direct" ? title : `#${title}`}`}
          />
        </>
      )}
    </main>
  );
}
