/**
 * The user's read receipts switch, kept by the server for all their devices:
 * off, others see deliveries but not when the user read, and the user sees
 * nobody's reads either. Shown in the notifications and privacy dialog.
 */
import { useState } from 'preact/hooks';
import { describeError } from '../chat/chat-store.js';
import { useChat, useChatStore } from '../chat/use-chat.js';

export function ReadReceiptsSetting() {
  const store = useChatStore();
  const off = useChat((state) => state.readReceiptsOff);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  const toggle = async (enabled: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      await store.setReadReceipts(enabled);
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="privacy-setting" aria-labelledby="read-receipts-label">
      <div class="notifications-switch">
        <label id="read-receipts-label" for="read-receipts-switch">
          Read receipts
        </label>
        <input
          id="read-receipts-switch"
          type="checkbox"
          role="switch"
          class="switch"
          data-testid="read-receipts-switch"
          checked={off === false}
          aria-checked={off === false}
          disabled={busy || off === undefined}
          aria-describedby="read-receipts-help"
          onChange={(event) => {
            // The switch follows the server's answer, not the click.
            event.currentTarget.checked = off === false;
            void toggle(off === true);
          }}
        />
      </div>
      <p id="read-receipts-help" class="muted notifications-status">
        When off, others do not see when you read their messages, and you do not see when they read yours.
      </p>
      {error !== undefined && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
