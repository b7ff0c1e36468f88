/** The status pill: people should always know whether what they type is going out right now. */
import { useSocket } from "../socket/SocketContext";
import type { ConnectionStatus as Status } from "../types";

const LABELS: Record<Status, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

export function ConnectionStatus() {
  const { status, retryNow } = useSocket();
  return (
    <div className={`status status--${status}`} role="status" aria-live="polite">
      <span className="status__pill" data-testid="connection-status" data-status={status}>
        <span className="status__dot" />
        {LABELS[status]}
      </span>
      {status === "offline" && (
        <button
          type="button"
          className="link-button"
          onClick={retryNow}
          data-testid="retry-connection"
        >
          Retry now
        </button>
      )}
    </div>
  );
}
