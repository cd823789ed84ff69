/**
 * The "edited" mark of an edited message, and what it opens: every text the
 * message had, oldest first, each with when it was written (the server
 * keeps them; docs/protocol.md, "Recall, edit, delete for me"). Anyone who
 * may read the message may see how it read before. A modal <dialog>
 * rendered into <body>; Escape or Close closes it and focus returns to the
 * mark.
 */
import { createPortal } from 'preact/compat';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../chat/chat-store.js';
import { dayLabel, messageTime } from '../format.js';

export interface EditVersion {
  text: string;
  at: number;
}

type HistoryState = { status: 'loading' } | { status: 'ready'; versions: readonly EditVersion[] } | { status: 'error'; error: string };

/** "edited"; a button that opens the history when `load` is given (stored messages), plain text otherwise. */
export function EditedMark({ load }: { load?: () => Promise<EditVersion[]> }) {
  const [open, setOpen] = useState(false);
  const mark = useRef<HTMLButtonElement>(null);
  if (load === undefined) {
    return (
      <span class="edited-mark" data-testid="edited-mark">
        edited
      </span>
    );
  }
  return (
    <>
      <button ref={mark} type="button" class="edited-mark" data-testid="edited-mark" aria-haspopup="dialog" title="Show the edit history" onClick={() => setOpen(true)}>
        edited
      </button>
      {open && (
        <EditHistoryDialog
          load={load}
          onClose={() => {
            setOpen(false);
            mark.current?.focus();
          }}
        />
      )}
    </>
  );
}

function EditHistoryDialog({ load, onClose }: { load: () => Promise<EditVersion[]>; onClose(): void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [history, setHistory] = useState<HistoryState>({ status: 'loading' });
  // Asked once per opening: the message list renders its items again with new callbacks.
  const loadOnce = useRef(load);

  useEffect(() => {
    const element = dialog.current;
    if (element !== null && !element.open) element.showModal();
    let current = true;
    loadOnce.current().then(
      (versions) => {
        if (current) setHistory({ status: 'ready', versions });
      },
      (error: unknown) => {
        if (current) setHistory({ status: 'error', error: describeError(error) });
      },
    );
    return () => {
      current = false;
    };
  }, []);

  return createPortal(
    <dialog ref={dialog} class="dialog edit-history" aria-labelledby="edit-history-title" data-testid="edit-history" onClose={onClose}>
      <div class="dialog-card">
        <h2 id="edit-history-title">Edit history</h2>
        {history.status === 'loading' && <span class="spinner" role="status" aria-label="Loading the edit history" />}
        {history.status === 'error' && (
          <p class="form-error" role="alert">
            {history.error}
          </p>
        )}
        {history.status === 'ready' &&
          (history.versions.length === 0 ? (
            <p class="muted">Nothing is left of this message.</p>
          ) : (
            <ol class="edit-history-list">
              {history.versions.map((version, index) => (
                <li key={index} class="edit-history-version" data-testid="edit-version">
                  <span class="edit-history-when">
                    {index === history.versions.length - 1 ? 'Now' : index === 0 ? 'Sent' : 'Edited'} · {dayLabel(version.at)} {messageTime(version.at)}
                  </span>
                  <p class="edit-history-text">{version.text}</p>
                </li>
              ))}
            </ol>
          ))}
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => dialog.current?.close()}>
            Close
          </button>
        </div>
      </div>
    </dialog>,
    document.body,
  );
}
