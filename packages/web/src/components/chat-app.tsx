/**
 * The signed-in app: sidebar (who am I, connection state, notifications,
 * going live or joining a live, conversation list), the open conversation or
 * live room, and the new-conversation dialog. On a phone-sized screen the
 * list and the open page take turns (data-view).
 */
import { useEffect, useState } from 'preact/hooks';
import { useChat, useChatStore } from '../chat/use-chat.js';
import { forgetWebPush, refreshWebPush } from '../notifications/service-worker.js';
import { type Route, useRoute } from '../route.js';
import { Avatar } from './avatar.js';
import { ChatView } from './chat-view.js';
import { ConnectionBanner, ConnectionStatus } from './connection-banner.js';
import { ConversationList, useRenderWhenMuteEnds } from './conversation-list.js';
import { CopyButton } from './copy-button.js';
import { LiveEntry } from './live-entry.js';
import { LiveRoomLoader } from './live-room-loader.js';
import { MessageSearchField, SearchResults } from './message-search.js';
import { NewConversation } from './new-conversation.js';
import { NotificationsButton } from './notifications-dialog.js';

const HOME: Route = { page: 'home' };

interface ChatAppProps {
  onSignOut(): void;
}

export function ChatApp({ onSignOut }: ChatAppProps) {
  const [route, navigate] = useRoute();
  const openId = route.page === 'conversation' ? route.conversationId : undefined;
  const open = (conversationId: string | undefined) => navigate(conversationId === undefined ? HOME : { page: 'conversation', conversationId });
  const openLive = (roomId: string) => navigate({ page: 'live', roomId });
  const [dialogOpen, setDialogOpen] = useState(false);
  const [searchQuery, setSearchQuery] = useState('');
  // The message a search hit opened, scrolled to once its conversation shows it.
  const [focus, setFocus] = useState<{ conversationId: string; seq: number } | undefined>();
  const openAt = (conversationId: string, seq: number) => {
    setFocus({ conversationId, seq });
    open(conversationId);
  };
  const [panelId, setPanelId] = useState<string | undefined>();
  const self = useChat((state) => state.self);
  const { client } = useChatStore();
  const [signingOut, setSigningOut] = useState(false);

  useEffect(() => {
    refreshWebPush(client).catch((error: unknown) => console.warn('parley: could not refresh notifications:', error));
  }, [client]);

  const signOut = () => {
    setSigningOut(true);
    void forgetWebPush(client).finally(onSignOut);
  };


  return (
    <div class="app" data-view={route.page === 'home' ? 'list' : 'chat'}>
      <DocumentTitle />
      <ConnectionBanner />
      <div class="workspace">
        <aside class="sidebar" aria-label="Conversations">
          <header class="sidebar-header">
            <Avatar id={self.userId} name={self.name} />
            <div class="me">
              <span class="me-name" data-testid="me-name">
                {self.name}
              </span>
              <OwnId userId={self.userId} />
              <ConnectionStatus />
            </div>
            <NotificationsButton />
            <button type="button" class="icon-button" onClick={signOut} disabled={signingOut} aria-label="Sign out" title="Sign out" data-testid="sign-out">
              <svg viewBox="0 0 20 20" aria-hidden="true">
                <path d="M8 4H5a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h3M12 6.5L15.5 10 12 13.5M15.5 10H8" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round" />
              </svg>
            </button>
          </header>
          <div class="sidebar-actions">
            <h2>Chats</h2>
            <button type="button" class="button primary small" data-testid="new-chat" onClick={() => setDialogOpen(true)}>
              <svg viewBox="0 0 20 20" aria-hidden="true">
                <path d="M10 4v12M4 10h12" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
              </svg>
              New chat
            </button>
          </div>
          <MessageSearchField query={searchQuery} onQuery={setSearchQuery} />
          <LiveEntry onOpen={openLive} />
          {searchQuery.trim() === '' ? (
            <ConversationList activeId={openId} onOpen={open} />
          ) : (
            <SearchResults query={searchQuery} onQuery={setSearchQuery} onOpen={openAt} />
          )}
        </aside>
        <main class="main">
          {route.page === 'conversation' ? (
            <ChatView
              key={route.conversationId}
              conversationId={route.conversationId}
              focusSeq={focus?.conversationId === route.conversationId ? focus.seq : undefined}
              panelId={panelId}
              onPanel={setPanelId}
              onBack={() => open(undefined)}
            />
          ) : route.page === 'live' ? (
            <LiveRoomLoader key={route.roomId} roomId={route.roomId} onBack={() => navigate(HOME)} />
          ) : (
            <div class="chat-placeholder welcome">
              <img src="/favicon.svg" alt="" width={56} height={56} />
              <h2>Welcome, {self.name}</h2>
              <p class="muted">Pick a conversation, or start a new one.</p>
              <button type="button" class="button primary" onClick={() => setDialogOpen(true)}>
                New chat
              </button>
            </div>
          )}
        </main>
      </div>
      {dialogOpen && <NewConversation onClose={() => setDialogOpen(false)} onOpened={open} />}
    </div>
  );
}

/** The user's own id, which friends type to find them, with a copy button. */
/**
 * "(3) Parley" in the tab: the SDK's badge count, which leaves muted
 * conversations out when the user chose so. Its own component, so that
 * every list change renders only it, not the app.
 */
function DocumentTitle() {
  const { client } = useChatStore();
  const conversations = useChat((state) => state.conversations);
  // The count depends on the setting too, and a mute that ends counts again.
  useChat((state) => state.hideMutedFromBadge);
  useRenderWhenMuteEnds(conversations);
  const badge = client.badgeCount;
  useEffect(() => {
    document.title = badge > 0 ? `(${badge}) Parley` : 'Parley';
  }, [badge]);
  return null;
}

function OwnId({ userId }: { userId: string }) {
  return (
    <span class="me-id">
      <span data-testid="me-id" title="Your user id: others type it to start a chat with you">
        @{userId}
      </span>
      <CopyButton text={userId} label={`Copy your user id ${userId}`} copiedNote="Your user id was copied" testId="copy-id" />
    </span>
  );
}
