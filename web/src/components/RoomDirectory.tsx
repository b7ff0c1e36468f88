/**
 * The public room directory: a search box and the public rooms I have not joined, a page at a
 * time. Picking one joins it. The server pages and searches (by name prefix), so this never
 * downloads more than a page per click, however many public rooms there are. Rooms created
 * while it is open (`room:created`) join the pages already loaded where they belong.
 */
import { useEffect, useState } from "react";

import { useChat } from "../chat/ChatContext";
import { useSocket } from "../socket/SocketContext";
import type { Room } from "../types";

/** Wait this long after the last keystroke before searching. */
const SEARCH_DELAY_MS = 250;

/** The server's order: name without regard to case, then id (close enough for display). */
function byName(a: Room, b: Room): number {
  const x = a.name.toLowerCase();
  const y = b.name.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a.id - b.id;
}

/** The loaded pages plus the announced rooms that belong in them (the query matches, and
 * they sort before the end of what is loaded, or everything is loaded). */
function withAnnounced(listing: Listing, announced: Room[]): Room[] {
  const loaded = new Set(listing.rooms.map((r) => r.id));
  const last = listing.rooms.at(-1);
  const query = listing.query.toLowerCase();
  const fresh = announced.filter(
    (r) =>
      !loaded.has(r.id) &&
      r.name.toLowerCase().startsWith(query) &&
      (listing.nextCursor === null || last === undefined || byName(r, last) < 0),
  );
  return fresh.length === 0 ? listing.rooms : [...listing.rooms, ...fresh].sort(byName);
}

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
  const rooms = listing === null ? [] : withAnnounced(listing, state.announced);
  const shown = rooms.filter((r) => !mine.has(r.id));

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
