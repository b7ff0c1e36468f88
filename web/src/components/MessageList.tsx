/**
 * The scrolling history of a room. Scrolling near the top fetches the previous page and keeps
 * the view anchored on what the reader was looking at; new messages scroll into view only when
 * the reader was already at the bottom (or wrote them), so reading old messages is not disrupted.
 */
import { Fragment, useCallback, useEffect, useLayoutEffect, useRef } from "react";

import { useChat } from "../chat/ChatContext";
import type { Timeline } from "../chat/state";
import type { ChatMessage } from "../types";
import { MessageItem } from "./MessageItem";

const LOAD_MORE_PX = 150;
const AT_BOTTOM_PX = 80;
const GROUP_GAP_MS = 5 * 60_000;

const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  month: "long",
  day: "numeric",
});

function dayLabel(ts: number): string {
  const day = new Date(ts).toDateString();
  if (day === new Date().toDateString()) {
    return "Today";
  }
  if (day === new Date(Date.now() - 86_400_000).toDateString()) {
    return "Yesterday";
  }
  return dayFormat.format(ts);
}

interface Snapshot {
  roomId: number;
  firstKey: string | undefined;
  lastKey: string | undefined;
  scrollHeight: number;
  scrollTop: number;
  atBottom: boolean;
}

export function MessageList({ roomId, timeline }: { roomId: number; timeline: Timeline }) {
  const { state, loadOlder, retry, markRead } = useChat();
  const scroller = useRef<HTMLDivElement>(null);
  const snapshot = useRef<Snapshot | null>(null);
  const { messages } = timeline;
  const me = state.me.id;

  const remember = useCallback(() => {
    const el = scroller.current;
    if (el === null) {
      return;
    }
    snapshot.current = {
      roomId,
      firstKey: messages[0]?.key,
      lastKey: messages.at(-1)?.key,
      scrollHeight: el.scrollHeight,
      scrollTop: el.scrollTop,
      atBottom: el.scrollHeight - el.scrollTop - el.clientHeight < AT_BOTTOM_PX,
    };
  }, [roomId, messages]);

  // Runs before paint: decide where the view goes now that the list changed.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) {
      return;
    }
    const before = snapshot.current;
    const last: ChatMessage | undefined = messages.at(-1);
    if (before === null || before.roomId !== roomId) {
      el.scrollTop = el.scrollHeight;
    } else if (before.firstKey !== messages[0]?.key && before.lastKey === last?.key) {
      // An older page was prepended: keep the same message under the reader's eyes.
      el.scrollTop = before.scrollTop + (el.scrollHeight - before.scrollHeight);
    } else if (before.atBottom || (before.lastKey !== last?.key && last?.author.id === me)) {
      el.scrollTop = el.scrollHeight;
    }
    remember();
  }, [messages, roomId, me, remember]);

  // Fill the screen: if the history does not overflow yet, there is nothing to scroll, so ask now.
  useEffect(() => {
    const el = scroller.current;
    if (
      el !== null &&
      timeline.loaded &&
      timeline.hasMore &&
      !timeline.loading &&
      el.scrollHeight <= el.clientHeight
    ) {
      loadOlder(roomId);
    }
  }, [timeline, roomId, loadOlder]);

  useEffect(() => {
    markRead(roomId);
    const onVisible = () => markRead(roomId);
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, [messages, roomId, markRead]);

  const onScroll = () => {
    remember();
    const el = scroller.current;
    if (el !== null && el.scrollTop < LOAD_MORE_PX) {
      loadOlder(roomId);
    }
  };

  const onRetry = useCallback((clientId: string) => retry(roomId, clientId), [retry, roomId]);

  return (
    <div className="messages" ref={scroller} onScroll={onScroll} data-testid="message-list">
      {timeline.loading && <div className="messages__loading">Loading earlier messages…</div>}
      {timeline.loaded && !timeline.hasMore && (
        <div className="messages__start" data-testid="history-start">
          This is the beginning of the conversation.
        </div>
      )}
      {timeline.loaded && messages.length === 0 && (
        <div className="messages__empty">No messages yet. Say hello 👋</div>
      )}
      <ol className="messages__list">
        {messages.map((message, index) => {
          const previous = messages[index - 1];
          const newDay =
            previous === undefined ||
            new Date(previous.ts).toDateString() !== new Date(message.ts).toDateString();
          const leading =
            newDay ||
            previous.author.id !== message.author.id ||
            message.ts - previous.ts > GROUP_GAP_MS;
          return (
            <Fragment key={message.key}>
              {newDay && (
                <li className="day" aria-hidden="true">
                  <span>{dayLabel(message.ts)}</span>
                </li>
              )}
              <MessageItem
                message={message}
                mine={message.author.id === me}
                leading={leading}
                onRetry={onRetry}
              />
            </Fragment>
          );
        })}
      </ol>
    </div>
  );
}
