/**
 * The public room directory: a search box and the public rooms I have not joined, a page at a
 * time. Picking one joins it. The server pages and searches (by name prefix), so this never
 * downloads more than a page per click, however many public rooms there are.
 */
import { useEffect, useState } from "react";

import { useChat } from "../chat/ChatContext";
import { useSocket } from "../socket/SocketContext";
import type { Room } from "../types";

/** Wait this long after the last keystroke before searching. */
const SEARCH_DELAY_MS = 250;

interface Listing {
  query: string;
  rooms: Room[];
  nextCursor: string | null;
}

export function RoomDirectory({ onPicked }: { onPicked: () => void }) {
  const { state, browseRooms, joinRoom } = useChat();
  const { status } = useSocket();
  const [query, setQuery] = useState("");
  const [listing, setListing] = useState<Listing | null>(null);
  const [error, setError] = useState<string | null>(null);

  // (Re)load the first page when the query settles, and again after each reconnect.
  useEffect(() => {
    if (status !== "connected") {
      return undefined;
    }
    let current = true;
    const wanted = query.trim();
    const timer = setTimeout(
      () => {
        browseRooms(wanted, null).then(
          (page) => {
            if (current) {
              setListing({ query: wanted, ...page });
              setError(null);
            }
          },
          (caught: unknown) => {
            if (current) {
              setError(caught instanceof Error ? caught.message : String(caught));
            }
          },
        );
      },
      wanted === "" ? 0 : SEARCH_DELAY_MS,
    );
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [query, status, browseRooms]);

  const more = () => {
    if (listing?.nextCursor == null) {
      return;
    }
    const { query: shown, nextCursor } = listing;
    browseRooms(shown, nextCursor).then(
      (page) =>
        setListing((now) =>
          now?.query === shown
            ? { query: shown, rooms: [...now.rooms, ...page.rooms], nextCursor: page.nextCursor }
            : now,
        ),
      (caught: unknown) => setError(caught instanceof Error ? caught.message : String(caught)),
    );
  };

  const join = async (room: Room) => {
    try {
      await joinRoom(room);
      onPicked();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  const mine = new Set(state.rooms.map((r) => r.id));
  const shown = (listing?.rooms ?? []).filter((r) => !mine.has(r.id));

  return (
    <>
      <div className="sidebar__form">
        <input
          type="search"
          placeholder="Find public rooms"
          aria-label="Find public rooms"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          data-testid="room-search"
        />
      </div>
      <ul className="sidebar__list" data-testid="directory">
        {shown.map((room) => (
          <li key={room.id}>
            <button
              type="button"
              className="room"
              onClick={() => void join(room)}
              data-testid="directory-item"
              data-room-name={room.name}
            >
              <span className="room__hash" aria-hidden="true">
                #
              </span>
              <span className="room__name">{room.name}</span>
            </button>
          </li>
        ))}
        {listing !== null && shown.length === 0 && listing.nextCursor === null && (
          <li className="sidebar__empty">
            {listing.query === "" ? "No other public rooms." : "No public room starts with that."}
          </li>
        )}
        {listing?.nextCursor != null && (
          <li>
            <button
              type="button"
              className="link-button"
              onClick={more}
              data-testid="directory-more"
            >
              More rooms…
            </button>
          </li>
        )}
      </ul>
      {error !== null && (
        <p className="sidebar__error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}
