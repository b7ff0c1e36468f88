/** Sidebar beside the conversation; on a phone the sidebar slides over it instead. */
import { useState } from "react";

import { ChatView } from "./ChatView";
import { Sidebar } from "./Sidebar";

export function ChatLayout() {
  const [drawerOpen, setDrawerOpen] = useState(false);
  return (
    <div className={drawerOpen ? "layout layout--drawer" : "layout"}>
      <Sidebar onPicked={() => setDrawerOpen(false)} />
      <div className="layout__scrim" onClick={() => setDrawerOpen(false)} aria-hidden="true" />
      <ChatView onMenu={() => setDrawerOpen(true)} />
    </div>
  );
}
