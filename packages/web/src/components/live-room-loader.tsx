/**
 * The live room page is a chunk of its own: the chat app loads without it,
 * and the first live opened loads it (once). Loading needs the network, like
 * joining does; when it fails the page says so and offers to try again.
 */
import { chunkLoader, useChunk } from './lazy-chunk.js';

const loadLiveRoom = chunkLoader(() => import('./live-room.js'));

interface LiveRoomLoaderProps {
  roomId: string;
  onBack(): void;
}

export function LiveRoomLoader({ roomId, onBack }: LiveRoomLoaderProps) {
  const { loaded, retry } = useChunk(loadLiveRoom);
  if (loaded === undefined) {
    return (
      <div class="chat-placeholder" role="status">
        <span class="spinner" aria-hidden="true" />
        <p class="muted">Opening the live…</p>
      </div>
    );
  }
  if (loaded === 'failed') {
    return (
      <div class="chat-placeholder">
        <p role="alert">The live could not be opened. Check your connection and try again.</p>
        <button type="button" class="button" onClick={retry}>
          Try again
        </button>
      </div>
    );
  }
  return <loaded.LiveRoom roomId={roomId} onBack={onBack} />;
}
