/**
 * The way into live rooms from the sidebar: "Go live" (a dialog asks for the
 * live's title, creates a room hosted by this user and opens it) and "Join
 * live" (a room id, typed, or pasted with the live's link, opens that
 * room's page, which says whether it exists).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../chat/chat-store.js';
import { useChat, useChatStore } from '../chat/use-chat.js';
import { roomIdFromInput } from '../route.js';

/** The server's bound on conversation names. */
const MAX_TITLE_CHARS = 128;

interface LiveEntryProps {
  onOpen(roomId: string): void;
}

export function LiveEntry({ onOpen }: LiveEntryProps) {
  const [roomId, setRoomId] = useState('');
  const [dialogOpen, setDialogOpen] = useState(false);
  const join = (event: Event) => {
    event.preventDefault();
    const id = roomIdFromInput(roomId);
    if (id === '') return;
    setRoomId('');
    onOpen(id);
  };
  return (
    <section class="live-entry" aria-label="Live">
      <button type="button" class="button small live-go" data-testid="go-live" onClick={() => setDialogOpen(true)}>
        <span class="live-dot" aria-hidden="true" />
        Go live
      </button>
      <form class="live-join" onSubmit={join}>
        <label for="join-live-id" class="visually-hidden">
          Join a live by its room id
        </label>
        <input id="join-live-id" data-testid="join-live-id" value={roomId} placeholder="Room id" autocomplete="off" spellcheck={false} onInput={(event) => setRoomId(event.currentTarget.value)} />
        <button type="submit" class="button small" data-testid="join-live" disabled={roomId.trim() === ''}>
          Join live
        </button>
      </form>
      {dialogOpen && (
        <GoLiveDialog
          onClose={() => setDialogOpen(false)}
          onCreated={(created) => {
            setDialogOpen(false);
            onOpen(created);
          }}
        />
      )}
    </section>
  );
}

interface GoLiveDialogProps {
  onClose(): void;
  onCreated(roomId: string): void;
}

/** A modal <dialog>: focus stays inside, Escape closes it. */
function GoLiveDialog({ onClose, onCreated }: GoLiveDialogProps) {
  const store = useChatStore();
  const selfName = useChat((state) => state.self.name);
  const connected = useChat((state) => state.connection.state === 'open');
  const dialog = useRef<HTMLDialogElement>(null);
  const titleField = useRef<HTMLInputElement>(null);
  const [title, setTitle] = useState(() => `${selfName}'s live`.slice(0, MAX_TITLE_CHARS));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  // The request waits for the connection (bounded by the SDK); an answer after the dialog closed is dropped.
  const open = useRef(true);
  useEffect(
    () => () => {
      open.current = false;
    },
    [],
  );
  useEffect(() => {
    const element = dialog.current;
    if (element !== null && !element.open) element.showModal();
    titleField.current?.select();
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const roomId = await store.createRoom(title.trim());
      if (open.current) onCreated(roomId);
    } catch (caught) {
      if (!open.current) return;
      setError(describeError(caught));
      setBusy(false);
    }
  };

  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: the click is on the backdrop; the keyboard closes a dialog with Escape natively
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby="go-live-title"
      data-testid="go-live-dialog"
      onClose={onClose}
      onClick={(event) => {
        // A click on the backdrop (the dialog element itself, outside the card) closes.
        if (event.target === dialog.current) dialog.current?.close();
      }}
    >
      <form class="dialog-card" onSubmit={submit}>
        <h2 id="go-live-title">Go live</h2>
        <p class="muted dialog-note">Viewers join with the room id, which the live page shows for you to share.</p>
        <label class="field">
          <span>Title</span>
          <input ref={titleField} data-testid="go-live-name" value={title} required maxLength={MAX_TITLE_CHARS} onInput={(event) => setTitle(event.currentTarget.value)} />
        </label>
        {error !== undefined && (
          <p class="form-error" role="alert" data-testid="go-live-error">
            {error}
          </p>
        )}
        {busy && !connected && (
          <p class="waiting-note" role="status">
            <span class="spinner" aria-hidden="true" />
            Connecting… this goes ahead once the server is reachable.
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="submit" class="button primary" data-testid="go-live-submit" disabled={busy || title.trim() === ''}>
            Start the live
          </button>
        </div>
      </form>
    </dialog>
  );
}
