/**
 * A live room page (`#/live/<roomId>`): header (title, the room id to share,
 * leave), the stage with its danmaku and hearts, the chat bar, and the side
 * panel (host tools, top viewers, the cards). It owns the page's
 * LiveRoomStore: joined when the page opens, left when it closes, whether by
 * the back button, another page or signing out. On a phone-sized screen the
 * side panel goes below the stage.
 */
import { useEffect, useMemo } from 'preact/hooks';
import { useChat, useChatStore } from '../chat/use-chat.js';
import { LiveRoomStore } from '../live/live-store.js';
import { LiveContext, useLive } from '../live/use-live.js';
import { CopyButton } from './copy-button.js';
import { LiveChatBar } from './live-chat-bar.js';
import { LivePanel } from './live-panel.js';
import { LiveStage } from './live-stage.js';

interface LiveRoomProps {
  roomId: string;
  onBack(): void;
}

export function LiveRoom({ roomId, onBack }: LiveRoomProps) {
  const chat = useChatStore();
  const selfId = useChat((state) => state.self.userId);
  const live = useMemo(() => new LiveRoomStore(chat.client, roomId, selfId), [chat, roomId, selfId]);
  useEffect(() => {
    live.start();
    return () => live.dispose();
  }, [live]);
  return (
    <LiveContext.Provider value={live}>
      <LivePage roomId={roomId} onBack={onBack} />
    </LiveContext.Provider>
  );
}

function LivePage({ roomId, onBack }: LiveRoomProps) {
  const status = useLive((state) => state.status);
  const error = useLive((state) => state.error);
  const name = useLive((state) => state.info?.name);

  return (
    <section class="live" data-testid="live-room" data-room-id={roomId} data-status={status} aria-label={name === undefined ? 'Live' : `Live: ${name}`}>
      <div class="live-column">
        <header class="chat-header">
          <div class="chat-title">
            <h2 data-testid="live-title">{name === undefined || name === '' ? 'Live' : name}</h2>
            <span class="chat-subtitle live-id">
              <span>
                Room id <code data-testid="live-room-id">{roomId}</code>
              </span>
              <CopyButton text={roomId} label={`Copy the room id ${roomId}`} copiedNote="The room id was copied" testId="copy-room-id" />
            </span>
          </div>
          <button type="button" class="button small" data-testid="leave-live" onClick={onBack}>
            Leave
          </button>
        </header>
        {status === 'failed' ? (
          <div class="chat-placeholder" data-testid="live-failed">
            <p role="alert">{error ?? 'This live cannot be opened.'}</p>
            <button type="button" class="button" onClick={onBack}>
              Back to chats
            </button>
          </div>
        ) : (
          <>
            <LiveStage onBack={onBack} />
            <LiveChatBar />
          </>
        )}
      </div>
      {status !== 'failed' && <LivePanel />}
    </section>
  );
}
