/**
 * One message. The body is rendered as a React text node, never as HTML, so whatever someone
 * types (`<script>`, `<img onerror>`) is shown literally and cannot run.
 */
import { memo } from "react";

import type { ChatMessage } from "../types";
import { Avatar } from "./Avatar";
import { Ticks } from "./Ticks";

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

interface Props {
  message: ChatMessage;
  mine: boolean;
  /** First of a run by the same author: shows the name and avatar. */
  leading: boolean;
  onRetry: (clientId: string) => void;
}

export const MessageItem = memo(function MessageItem({ message, mine, leading, onRetry }: Props) {
  const classes = ["msg", mine ? "msg--mine" : "msg--theirs", leading ? "msg--leading" : ""];
  return (
    <li
      className={classes.join(" ")}
      data-testid="message"
      data-mine={mine}
      data-state={message.state ?? undefined}
      data-message-id={message.id ?? undefined}
    >
      {!mine && (
        <div className="msg__avatar">
          {leading && <Avatar name={message.author.username} size={32} />}
        </div>
      )}
      <div className="msg__column">
        {leading && !mine && (
          <div className="msg__author" data-testid="message-author">
            {message.author.username}
          </div>
        )}
        <div className={message.state === "failed" ? "bubble bubble--failed" : "bubble"}>
          <span className="bubble__body" data-testid="message-body">
            {message.body}
          </span>
          <span className="bubble__meta">
            <time dateTime={new Date(message.ts).toISOString()}>
              {timeFormat.format(message.ts)}
            </time>
            {message.state !== null && <Ticks state={message.state} />}
          </span>
        </div>
        {message.state === "failed" && (
          <div className="msg__failed">
            Not sent{message.error !== null ? `: ${message.error}` : ""} ·{" "}
            <button
              type="button"
              className="link-button"
              onClick={() => onRetry(message.clientId)}
              data-testid="message-retry"
            >
              Retry
            </button>
          </div>
        )}
      </div>
    </li>
  );
});
