/**
 * Where messages are written. Enter sends, Shift+Enter adds a line. Sending never waits for the
 * network: the message joins the outbox and the list at once, and goes out when it can.
 */
import { useLayoutEffect, useRef, useState } from "react";
import type { FormEvent, KeyboardEvent } from "react";

import { useChat } from "../chat/ChatContext";
import { useSocket } from "../socket/SocketContext";

const MAX_LENGTH = 4000;

export function Composer({ roomId, placeholder }: { roomId: number; placeholder: string }) {
  const { send, keystroke, stopTyping } = useChat();
  const { status } = useSocket();
  const [text, setText] = useState("");
  const area = useRef<HTMLTextAreaElement>(null);

  // Grow with the text up to a few lines, then scroll.
  useLayoutEffect(() => {
    const el = area.current;
    if (el !== null) {
      el.style.height = "auto";
      el.style.height = `${String(Math.min(el.scrollHeight, 160))}px`;
    }
  }, [text]);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    const body = text.trim();
    if (body === "") {
      return;
    }
    send(roomId, body);
    setText("");
    area.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  return (
    <form className="composer" onSubmit={submit}>
      {status !== "connected" && (
        <p className="composer__note" data-testid="offline-note">
          Not connected — your messages will be sent as soon as the connection is back.
        </p>
      )}
      <div className="composer__row">
        <textarea
          ref={area}
          rows={1}
          maxLength={MAX_LENGTH}
          placeholder={placeholder}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            if (e.target.value === "") {
              stopTyping(roomId);
            } else {
              keystroke(roomId);
            }
          }}
          onKeyDown={onKeyDown}
          onBlur={() => stopTyping(roomId)}
          aria-label="Message"
          data-testid="composer-input"
        />
        <button
          className="send"
          disabled={text.trim() === ""}
          aria-label="Send"
          data-testid="composer-send"
        >
          <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
            <path
              d="M3.4 20.4l17.4-7.5a1 1 0 000-1.8L3.4 3.6a1 1 0 00-1.4 1.2L4.5 12l-2.5 7.2a1 1 0 001.4 1.2z"
              fill="currentColor"
            />
          </svg>
        </button>
      </div>
    </form>
  );
}
