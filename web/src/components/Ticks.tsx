/** Delivery state of one of my messages, drawn as the familiar clock / tick / double tick. */
import type { DeliveryState } from "../types";

const TITLES: Record<DeliveryState, string> = {
  sending: "Sending…",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
  failed: "Not sent",
};

export function Ticks({ state }: { state: DeliveryState }) {
  const title = TITLES[state];
  return (
    <span
      className={`ticks ticks--${state}`}
      title={title}
      aria-label={title}
      data-testid="message-state"
    >
      {state === "sending" && (
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" strokeWidth="1.5" />
          <path
            d="M8 4.5V8l2.5 1.5"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.5"
            strokeLinecap="round"
          />
        </svg>
      )}
      {state === "sent" && (
        <svg viewBox="0 0 16 16" width="16" height="14" aria-hidden="true">
          <path
            d="M3 8.5l3 3 7-7"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.7"
            strokeLinecap="round"
            strokeLinejoin="round"
          />
        </svg>
      )}
      {(state === "delivered" || state === "read") && (
        <svg viewBox="0 0 20 16" width="19" height="14" aria-hidden="true">
          <path
            d="M2 8.5l3 3 7-7"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.7"
            strokeLinecap="round"
            strokeLinejoin="round"
          />
          <path
            d="M8.5 11.5l7-7"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.7"
            strokeLinecap="round"
            strokeLinejoin="round"
          />
        </svg>
      )}
      {state === "failed" && (
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <circle cx="8" cy="8" r="6.5" fill="currentColor" />
          <path d="M8 4.5v4.2M8 11v.2" stroke="white" strokeWidth="1.7" strokeLinecap="round" />
        </svg>
      )}
    </span>
  );
}
