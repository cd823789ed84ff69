/**
 * The live room page is a chunk of its own: the chat app loads without it,
 * and the first live opened loads it (once). Loading needs the network, like
 * joining does; when it fails the page says so and offers to try again.
 */
import { useEffect, useState } from 'preact/hooks';

type LiveRoomModule = typeof import('./live-room.js');

let loading: Promise<LiveRoomModule> | undefined;

function loadLiveRoom(): Promise<LiveRoomModule> {
  loading ??= import('./live-room.js').catch((error: unknown) => {
    // Forgotten, so that trying again fetches it again.
    loading = undefined;
    throw error;
  });
  return loading;
}

interface LiveRoomLoaderProps {
  roomId: string;
  onBack(): void;
}

export function LiveRoomLoader({ roomId, onBack }: LiveRoomLoaderProps) {
  const [loaded, setLoaded] = useState<LiveRoomModule | 'failed' | undefined>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let current = true;
    loadLiveRoom().then(
      (module) => current && setLoaded(module),
      () => current && setLoaded('failed'),
    );
    return () => {
      current = false;
    };
  }, [attempt]);

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
        <button
          type="button"
          class="button"
          onClick={() => {
            setLoaded(undefined);
            setAttempt((count) => count + 1);
          }}
        >
          Try again
        </button>
      </div>
    );
  }
  return <loaded.LiveRoom roomId={roomId} onBack={onBack} />;
}
