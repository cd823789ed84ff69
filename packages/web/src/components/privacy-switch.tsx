/**
 * A switch kept by the server for all the user's devices: read receipts and
 * showing when online (both reciprocal: what a user hides from others, they
 * are not shown of others), and muted conversations in the badge. The switch follows the
 * server's answer, never the click, so it cannot show a setting the server
 * refused. Shown in the notifications and privacy dialog.
 */
import { useState } from 'preact/hooks';
import { describeError } from '../chat/chat-store.js';
import { useChat, useChatStore } from '../chat/use-chat.js';

interface PrivacySwitchProps {
  /** Names the label, switch and help ids and the test id (`${id}-switch`). */
  id: string;
  label: string;
  help: string;
  /** Whether the setting is on; undefined until the first welcome. */
  useOn(): boolean | undefined;
  /** Asks the server to turn the setting on or off. */
  set(on: boolean): Promise<void>;
}

function PrivacySwitch({ id, label, help, useOn, set }: PrivacySwitchProps) {
  const on = useOn();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  const toggle = async (next: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      await set(next);
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="privacy-setting" aria-labelledby={`${id}-label`}>
      <div class="notifications-switch">
        <label id={`${id}-label`} for={`${id}-switch`}>
          {label}
        </label>
        <input
          id={`${id}-switch`}
          type="checkbox"
          role="switch"
          class="switch"
          data-testid={`${id}-switch`}
          checked={on === true}
          aria-checked={on === true}
          disabled={busy || on === undefined}
          aria-describedby={`${id}-help`}
          onChange={(event) => {
            event.currentTarget.checked = on === true;
            void toggle(on !== true);
          }}
        />
      </div>
      <p id={`${id}-help`} class="muted notifications-status">
        {help}
      </p>
      {error !== undefined && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** Read receipts: off, others do not see when the user read, and the user sees nobody's reads. */
export function ReadReceiptsSetting() {
  const store = useChatStore();
  return (
    <PrivacySwitch
      id="read-receipts"
      label="Read receipts"
      help="When off, others do not see when you read their messages, and you do not see when they read yours."
      useOn={() => {
        const off = useChat((state) => state.readReceiptsOff);
        return off === undefined ? undefined : !off;
      }}
      set={(on) => store.setReadReceipts(on)}
    />
  );
}

/** Showing when online: off, others see neither online nor last seen, and the user sees nobody's last seen. */
export function PresenceSetting() {
  const store = useChatStore();
  return (
    <PrivacySwitch
      id="presence"
      label="Show when I'm online"
      help="When off, your contacts do not see when you are online or when you were last seen, and you do not see when they were last seen."
      useOn={() => {
        const hidden = useChat((state) => state.hidePresence);
        return hidden === undefined ? undefined : !hidden;
      }}
      set={(on) => store.setPresenceHidden(!on)}
    />
  );
}

/** Muted conversations in the badge: on, the title's count and notifications' badge leave them out. */
export function BadgeSetting() {
  const store = useChatStore();
  return (
    <PrivacySwitch
      id="badge-muted"
      label="Leave muted chats out of the badge"
      help="When on, the count in the tab's title and on notifications leaves out conversations you muted. Their own unread counts stay."
      useOn={() => useChat((state) => state.hideMutedFromBadge)}
      set={(on) => store.setHideMutedFromBadge(on)}
    />
  );
}
