/** Top level: the sign-in screen, or the chat inside one socket and one chat store per user. */
import { SessionProvider, useSession } from "./auth/SessionContext";
import { ChatProvider } from "./chat/ChatContext";
import { AuthScreen } from "./components/AuthScreen";
import { ChatLayout } from "./components/ChatLayout";
import { SocketProvider } from "./socket/SocketContext";

function Screens() {
  const { session } = useSession();
  if (session === null) {
    return <AuthScreen />;
  }
  // Keyed by user so logging in as someone else starts from a clean socket and state.
  return (
    <SocketProvider key={session.user.id}>
      <ChatProvider me={session.user}>
        <ChatLayout />
      </ChatProvider>
    </SocketProvider>
  );
}

export function App() {
  return (
    <SessionProvider>
      <Screens />
    </SessionProvider>
  );
}
