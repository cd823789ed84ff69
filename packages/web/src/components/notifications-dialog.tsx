/**
 * Notifications while Parley is closed: a bell in the sidebar's header opens
 * a dialog with this browser's switch (Web Push through the app's service
 * worker), why it cannot be on when it cannot, and how much notifications
 * show on every device of the user (the preview setting, kept by the server);
 * and, as the other setting a user looks for there, read receipts.
 */
import type { PushPreview } from '@parley/client';
import { disableWebPush, enableWebPush, webPushState } from '@parley/client/browser';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../chat/chat-store.js';
import { useChatStore } from '../chat/use-chat.js';
import { appServiceWorker } from '../notifications/service-worker.js';
import { BadgeSetting, PresenceSetting, ReadReceiptsSetting } from './privacy-switch.js';

/**
 * 'blocked': the browser refuses notifications to this site (the user said
 * no, or its settings do); 'unsupported': no service workers or Push API
 * here; 'no-push-service': subscribing failed for want of a push service;
 * 'server-off': the server sends no Web Push.
 */
type Status = 'checking' | 'on' | 'off' | 'blocked' | 'unsupported' | 'no-push-service' | 'server-off';

const STATUS_TEXT: Record<Status, string> = {
  checking: 'Checking…',
  on: 'On: this browser shows new messages while Parley is closed.',
  off: 'Off: new messages show only while Parley is open.',
  blocked: 'Blocked by the browser. Allow notifications for this site in the browser’s settings, then try again.',
  unsupported: 'Not available in this browser.',
  'no-push-service': 'Not available: this browser has no push service right now (it may be offline, in a private window, or have push turned off).',
  'server-off': 'This server does not send browser notifications.',
};

/** Each setting's label, and how it reads as the server's default. */
const PREVIEW_TEXT: Record<PushPreview, { label: string; asDefault: string }> = {
  full: { label: 'Sender and message', asDefault: 'sender and message' },
  sender: { label: 'Sender only', asDefault: 'sender only' },
  hidden: { label: 'Nothing but “New messages”', asDefault: 'nothing but “New messages”' },
};

/** The radio value of "the deployment's setting" (preview undefined). */
const DEFAULT_CHOICE = 'default';
type PreviewChoice = PushPreview | typeof DEFAULT_CHOICE;

export function NotificationsButton() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class="icon-button" onClick={() => setOpen(true)} aria-label="Notifications and privacy" title="Notifications and privacy" data-testid="notifications-open">
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <path
            d="M10 3.5a4.5 4.5 0 0 0-4.5 4.5v2.6L4 13.5h12l-1.5-2.9V8A4.5 4.5 0 0 0 10 3.5zM8.2 15.5a1.9 1.9 0 0 0 3.6 0"
            fill="none"
            stroke="currentColor"
            stroke-width="1.7"
            stroke-linecap="round"
            stroke-linejoin="round"
          />
        </svg>
      </button>
      {open && <NotificationsDialog onClose={() => setOpen(false)} />}
    </>
  );
}

/** A modal <dialog>: focus stays inside, Escape closes it. */
function NotificationsDialog({ onClose }: { onClose(): void }) {
  const { client } = useChatStore();
  const dialog = useRef<HTMLDialogElement>(null);
  const [status, setStatus] = useState<Status>('checking');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [preview, setPreview] = useState<{ choice: PreviewChoice; deploymentDefault: PushPreview } | undefined>();
  const [previewError, setPreviewError] = useState<string | undefined>();
  const [registration, setRegistration] = useState<ServiceWorkerRegistration | undefined>();
  // Answers that arrive after the dialog closed are dropped.
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );

  useEffect(() => {
    const element = dialog.current;
    if (element !== null && !element.open) element.showModal();
  }, []);

  useEffect(() => {
    void (async () => {
      try {
        const current = await appServiceWorker();
        const browser = current === undefined ? 'unsupported' : await webPushState(current);
        const serverOn = browser === 'unsupported' || browser === 'denied' ? true : (await client.push.webPushKey()) !== undefined;
        if (!mounted.current) return;
        setRegistration(current);
        setStatus(browser === 'denied' ? 'blocked' : !serverOn ? 'server-off' : browser);
      } catch (caught) {
        if (!mounted.current) return;
        setStatus('off');
        setError(describeError(caught));
      }
    })();
    client.push.preferences().then(
      (loaded) => mounted.current && setPreview({ choice: loaded.preview ?? DEFAULT_CHOICE, deploymentDefault: loaded.deploymentDefault }),
      (caught: unknown) => mounted.current && setPreviewError(describeError(caught)),
    );
  }, [client]);

  const toggle = async () => {
    if (registration === undefined) return;
    setBusy(true);
    setError(undefined);
    try {
      if (status === 'on') {
        await disableWebPush(client, registration);
        if (mounted.current) setStatus('off');
      } else {
        const result = await enableWebPush(client, registration);
        if (!mounted.current) return;
        // Whether the server or the browser lacks push was settled when the dialog opened.
        setStatus(result === 'enabled' ? 'on' : result === 'denied' ? 'blocked' : result === 'unsupported' ? 'unsupported' : 'no-push-service');
      }
    } catch (caught) {
      if (!mounted.current) return;
      setError(describeError(caught));
      // What the browser holds now, whatever the server heard.
      setStatus(await webPushState(registration).then((state) => (state === 'denied' ? 'blocked' : state)));
    } finally {
      if (mounted.current) setBusy(false);
    }
  };

  const choosePreview = async (choice: PreviewChoice) => {
    if (preview === undefined) return;
    const before = preview;
    setPreview({ ...preview, choice });
    setPreviewError(undefined);
    try {
      await client.push.setPreview(choice === DEFAULT_CHOICE ? undefined : choice);
    } catch (caught) {
      if (!mounted.current) return;
      setPreview(before);
      setPreviewError(describeError(caught));
    }
  };

  const switchable = status === 'on' || status === 'off' || status === 'no-push-service';
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: the click is on the backdrop; the keyboard closes a dialog with Escape natively
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby="notifications-title"
      data-testid="notifications-dialog"
      onClose={onClose}
      onClick={(event) => {
        // A click on the backdrop (the dialog element itself, outside the card) closes.
        if (event.target === dialog.current) dialog.current?.close();
      }}
    >
      <div class="dialog-card">
        <h2 id="notifications-title">Notifications and privacy</h2>
        <div class="notifications-switch">
          <label for="notifications-switch">Notifications in this browser</label>
          <input
            id="notifications-switch"
            type="checkbox"
            role="switch"
            class="switch"
            data-testid="notifications-switch"
            checked={status === 'on'}
            aria-checked={status === 'on'}
            disabled={busy || !switchable}
            aria-describedby="notifications-status"
            onChange={(event) => {
              // The checkbox follows the status, not the click: it turns on only once subscribed.
              event.currentTarget.checked = status === 'on';
              void toggle();
            }}
          />
        </div>
        <p id="notifications-status" class="notifications-status muted" role="status" data-testid="notifications-status" data-state={busy ? 'checking' : status}>
          {busy && <span class="spinner" aria-hidden="true" />}
          {busy ? (status === 'on' ? 'Turning off…' : 'Turning on…') : STATUS_TEXT[status]}
        </p>
        {error !== undefined && (
          <p class="form-error" role="alert" data-testid="notifications-error">
            {error}
          </p>
        )}
        {preview !== undefined && (
          <fieldset class="preview-choice" data-testid="notifications-preview">
            <legend>What notifications show, on all your devices</legend>
            {(['full', 'sender', 'hidden', DEFAULT_CHOICE] as const).map((choice) => (
              <label key={choice} class="radio-row">
                <input type="radio" name="notifications-preview" value={choice} checked={preview.choice === choice} onChange={() => void choosePreview(choice)} />
                {choice === DEFAULT_CHOICE ? `This server’s default (${PREVIEW_TEXT[preview.deploymentDefault].asDefault})` : PREVIEW_TEXT[choice].label}
              </label>
            ))}
          </fieldset>
        )}
        {previewError !== undefined && (
          <p class="form-error" role="alert" data-testid="notifications-preview-error">
            {previewError}
          </p>
        )}
        <ReadReceiptsSetting />
        <PresenceSetting />
        <BadgeSetting />
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => dialog.current?.close()}>
            Close
          </button>
        </div>
      </div>
    </dialog>
  );
}
