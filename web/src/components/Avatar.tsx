/** A round initial badge whose colour is stable per username, so people are easy to tell apart. */
const HUES = [12, 36, 150, 175, 200, 220, 262, 290, 330];

function hueFor(name: string): number {
  let hash = 0;
  for (const char of name) {
    hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  }
  return HUES[hash % HUES.length] ?? 220;
}

export function Avatar({
  name,
  size = 36,
  online,
}: {
  name: string;
  size?: number;
  online?: boolean;
}) {
  return (
    <span
      className="avatar"
      style={{
        width: size,
        height: size,
        fontSize: size * 0.42,
        background: `hsl(${String(hueFor(name))} 62% 52%)`,
      }}
      aria-hidden="true"
    >
      {name.slice(0, 1).toUpperCase()}
      {online === true && <span className="avatar__dot" />}
    </span>
  );
}
