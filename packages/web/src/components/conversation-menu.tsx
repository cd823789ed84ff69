/**
 * The open conversation's options (the header's "⋯"): pin or unpin it, mute
 * it for a while or until unmuted, unmute it. These are the user's own
 * settings, the same on all their devices; the list shows them.
 *
 * A menu button as WAI-ARIA describes it: the menu opens on its first item,
 * the arrow keys, Home and End move between items, Escape closes it and
 * returns to the button, Tab or a click elsewhere closes it. A refused change
 * (one pin too many) goes to `onError`, for the chat view to show.
 */
import { type ConversationSummary, isMuted } from '@parley/client';
import { Fragment } from 'preact';
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { describeError, describePinError } from '../chat/chat-store.js';
import { useChatStore } from '../chat/use-chat.js';

const HOUR_MS = 3_600_000;

interface MenuItem {
  label: string;
  run(): Promise<void>;
  /** Describes a refusal for the user. Default: describeError. */
  describe?(error: unknown): string;
}

interface ConversationMenuProps {
  conversation: ConversationSummary;
  /** A change was refused (a message to show), or another one is being tried (undefined). */
  onError(message: string | undefined): void;
}

export function ConversationMenu({ conversation, onError }: ConversationMenuProps) {
  const store = useChatStore();
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const anchor = useRef<HTMLDivElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const menuId = useId();
  const conversationId = conversation.id;

  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) button.current?.focus();
  };

  // Focus moves into the menu as it renders. Deferred to after paint, a closing Escape that came
  // first would run it on the way out, onto an item about to vanish, and focus would fall to the page.
  useLayoutEffect(() => {
    if (open) menu.current?.querySelector<HTMLButtonElement>('[role="menuitem"]')?.focus();
  }, [open]);

  useEffect(() => {
    if (!open) return;
    const onPointerDown = (event: PointerEvent) => {
      if (!(event.target instanceof Node) || !anchor.current?.contains(event.target)) setOpen(false);
    };
    document.addEventListener('pointerdown', onPointerDown);
    return () => document.removeEventListener('pointerdown', onPointerDown);
  }, [open]);

  const items: MenuItem[][] = [];
  if (conversation.pinnedAt !== undefined) items.push([{ label: 'Unpin', run: () => store.unpin(conversationId) }]);
  else if (conversation.active) {
    items.push([
      {
        label: 'Pin',
        run: () => store.pin(conversationId),
        describe: (error) => describePinError(error, store.state.conversations.filter((summary) => summary.pinnedAt !== undefined).length),
      },
    ]);
  }
  // Read at render: a mute that ran out offers muting again.
  if (isMuted(conversation)) items.push([{ label: 'Unmute', run: () => store.unmute(conversationId) }]);
  else {
    items.push([
      { label: 'Mute for 8 hours', run: () => store.mute(conversationId, 8 * HOUR_MS) },
      { label: 'Mute for 1 week', run: () => store.mute(conversationId, 7 * 24 * HOUR_MS) },
      { label: 'Mute always', run: () => store.mute(conversationId) },
    ]);
  }

  const choose = (item: MenuItem) => {
    close(true);
    onError(undefined);
    item.run().catch((error: unknown) => onError((item.describe ?? describeError)(error)));
  };

  const onMenuKeyDown = (event: KeyboardEvent) => {
    const buttons = Array.from(menu.current?.querySelectorAll<HTMLButtonElement>('[role="menuitem"]') ?? []);
    const index = document.activeElement instanceof HTMLButtonElement ? buttons.indexOf(document.activeElement) : -1;
    const focusAt = (next: number) => buttons[(next + buttons.length) % buttons.length]?.focus();
    switch (event.key) {
      case 'Escape':
        close(true);
        break;
      case 'Tab':
        // Focus moves on as usual, out of the closed menu.
        setOpen(false);
        return;
      case 'ArrowDown':
        focusAt(index + 1);
        break;
      case 'ArrowUp':
        focusAt(index - 1);
        break;
      case 'Home':
        focusAt(0);
        break;
      case 'End':
        focusAt(buttons.length - 1);
        break;
      default:
        return;
    }
    event.preventDefault();
    event.stopPropagation();
  };

  return (
    <div class="menu-anchor" ref={anchor}>
      <button
        ref={button}
        type="button"
        class={`icon-button${open ? ' pressed' : ''}`}
        aria-label="Conversation options"
        title="Conversation options"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        data-testid="conversation-options"
        onClick={() => setOpen(!open)}
        onKeyDown={(event) => {
          // A key pressed between the click and the menu's render lands here.
          if (event.key === 'Escape' && open) {
            event.preventDefault();
            close(true);
            return;
          }
          if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
          event.preventDefault();
          setOpen(true);
        }}
      >
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <circle cx="4.5" cy="10" r="1.6" fill="currentColor" />
          <circle cx="10" cy="10" r="1.6" fill="currentColor" />
          <circle cx="15.5" cy="10" r="1.6" fill="currentColor" />
        </svg>
      </button>
      {open && (
        <div ref={menu} id={menuId} class="menu" role="menu" aria-label="Conversation options" data-testid="conversation-menu" tabIndex={-1} onKeyDown={onMenuKeyDown}>
          {items.map((group, groupIndex) => (
            <Fragment key={group[0]?.label}>
              {groupIndex > 0 && <hr class="menu-separator" />}
              {group.map((item) => (
                <button key={item.label} type="button" role="menuitem" tabIndex={-1} class="menu-item" onClick={() => choose(item)}>
                  {item.label}
                </button>
              ))}
            </Fragment>
          ))}
        </div>
      )}
    </div>
  );
}
