/** "alice is typing…" under the messages; keeps its height so the list does not jump. */
import type { Typist } from "../chat/state";

function sentence(names: string[]): string {
  if (names.length === 1) {
    return `${names[0] ?? ""} is typing`;
  }
  if (names.length === 2) {
    return `${names[0] ?? ""} and ${names[1] ?? ""} are typing`;
  }
  return `${String(names.length)} people are typing`;
}

export function TypingLine({ typists }: { typists: Typist[] }) {
  return (
    <div className="typing" aria-live="polite">
      {typists.length > 0 && (
        <span data-testid="typing-indicator">
          <span className="typing__dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          {sentence(typists.map((t) => t.user.username))}…
        </span>
      )}
    </div>
  );
}
