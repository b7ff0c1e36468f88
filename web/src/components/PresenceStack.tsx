/** Who is here right now: a few avatars and a count, names on hover and for screen readers. */
import type { User } from "../types";
import { Avatar } from "./Avatar";

const SHOWN = 4;

/** `stale`: we are disconnected, so the list may be out of date; it is shown faded. */
export function PresenceStack({ users, stale }: { users: User[]; stale: boolean }) {
  const sorted = [...users].sort((a, b) => a.username.localeCompare(b.username));
  return (
    <div
      className={stale ? "presence presence--stale" : "presence"}
      data-testid="presence-list"
      aria-label={`${String(users.length)} online`}
    >
      <div className="presence__stack">
        {sorted.slice(0, SHOWN).map((user) => (
          <span
            key={user.id}
            title={user.username}
            data-testid="presence-user"
            data-username={user.username}
          >
            <Avatar name={user.username} size={26} online />
          </span>
        ))}
        {sorted.length > SHOWN && <span className="presence__more">+{sorted.length - SHOWN}</span>}
      </div>
      <span className="presence__count">{users.length} online</span>
      <ul className="visually-hidden">
        {sorted.map((user) => (
          <li key={user.id}>{user.username}</li>
        ))}
      </ul>
    </div>
  );
}
