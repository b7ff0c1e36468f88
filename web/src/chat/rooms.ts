/** How rooms are named on screen: a DM is called after the other person, not its internal name. */
import type { Room, User } from "../types";

export function roomTitle(room: Room, me: User): string {
  if (room.kind !== "direct") {
    return room.name;
  }
  const other = room.members?.find((m) => m.id !== me.id);
  if (other !== undefined) {
    return other.username;
  }
  // Without a member list, fall back to the name minus my own username, e.g. "dm:alice:bob".
  const parts = room.name
    .split(/[:,\s]+/)
    .filter((p) => p !== "" && p !== "dm" && p !== me.username);
  return parts[0] ?? room.name;
}
