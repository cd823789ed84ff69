/**
 * The app's root: the admin dashboard at #/admin (its own sign-in, no chat
 * session); otherwise signed out → SignIn, signed in → a ChatStore for the
 * session and the chat UI. The session is shared by the browser's tabs:
 * signing out in one signs out all.
 */
import { IndexedDbCache } from '@parley/client/browser';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { type Session, clearSession, currentToken, loadSession, onSessionChangedElsewhere, saveSession } from './auth/dev-auth.js';
import { ChatStore } from './chat/chat-store.js';
import { openOutboxStore } from './chat/outbox-store.js';
import { ChatContext } from './chat/use-chat.js';
import { AdminLoader } from './components/admin-loader.js';
import { ChatApp } from './components/chat-app.js';
import { SignIn } from './components/sign-in.js';
import { useRoute } from './route.js';

/** How often an open tab checks whether its token is due for a refresh. */
const TOKEN_CHECK_INTERVAL_MS = 5 * 60_000;

export function webSocketUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

export function App() {
  const [route] = useRoute();
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [notice, setNotice] = useState<string | undefined>();

  useEffect(
    () =>
      onSessionChangedElsewhere((changed) => {
        if (changed?.userId === session?.userId) return; // a token refresh
        setNotice(changed === undefined ? 'You signed out in another tab.' : undefined);
        setSession(changed);
      }),
    [session?.userId],
  );

  if (route.page === 'admin') return <AdminLoader />;
  if (session === undefined) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(signedIn) => {
          saveSession(signedIn);
          setNotice(undefined);
          setSession(signedIn);
        }}
      />
    );
  }
  return (
    <SignedIn
      key={session.userId}
      session={session}
      onSignOut={(reason) => {
        // The open conversation was this user's: the next one to sign in here starts at the list.
        if (location.hash !== '') history.replaceState(null, '', `${location.pathname}${location.search}`);
        clearSession();
        setNotice(reason);
        setSession(undefined);
      }}
    />
  );
}

function SignedIn({ session, onSignOut }: { session: Session; onSignOut(reason?: string): void }) {
  const store = useMemo(
    () =>
      new ChatStore({
        url: webSocketUrl(),
        self: { userId: session.userId, name: session.name },
        token: currentToken,
        outbox: openOutboxStore(),
        cache: new IndexedDbCache(),
      }),
    [session.userId],
  );

  useEffect(() => {
    store.start();
    const unsubscribe = store.subscribe(() => {
      if (store.state.ended !== undefined) onSignOut(store.state.ended);
    });
    const refresh = setInterval(() => void currentToken().catch(() => undefined), TOKEN_CHECK_INTERVAL_MS);
    return () => {
      clearInterval(refresh);
      unsubscribe();
      // Signed out (here, in another tab, or the session ended): this user's cached conversations go with the session.
      if (loadSession()?.userId !== session.userId) {
        store.client.clearCache().catch((error: unknown) => console.warn('parley: could not clear the local cache:', error));
      }
      store.close();
    };
  }, [store]);

  return (
    <ChatContext.Provider value={store}>
      <ChatApp onSignOut={() => onSignOut()} />
    </ChatContext.Provider>
  );
}
