/**
 * The open conversation's options (the header's "⋯"): pin or unpin it, mute
 * it for a while or until unmuted, unmute it. These are the user's own
 * settings, the same on all their devices; the list shows them. A refused
 * change (one pin too many) goes to `onError`, for the chat view to show.
 */
import { type ConversationSummary, isMuted } from '@parley/client';
import { describeError, describePinError } from '../chat/chat-store.js';
import { useChatStore } from '../chat/use-chat.js';
import { type MenuItem, MenuButton } from './menu-button.js';

const HOUR_MS = 3_600_000;

interface SettingItem {
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
  const conversationId = conversation.id;

  const groups: SettingItem[][] = [];
  if (conversation.pinnedAt !== undefined) groups.push([{ label: 'Unpin', run: () => store.unpin(conversationId) }]);
  else if (conversation.active) {
    groups.push([
      {
        label: 'Pin',
        run: () => store.pin(conversationId),
        describe: (error) => describePinError(error, store.state.conversations.filter((summary) => summary.pinnedAt !== undefined).length),
      },
    ]);
  }
  // Read at render: a mute that ran out offers muting again.
  if (isMuted(conversation)) groups.push([{ label: 'Unmute', run: () => store.unmute(conversationId) }]);
  else {
    groups.push([
      { label: 'Mute for 8 hours', run: () => store.mute(conversationId, 8 * HOUR_MS) },
      { label: 'Mute for 1 week', run: () => store.mute(conversationId, 7 * 24 * HOUR_MS) },
      { label: 'Mute always', run: () => store.mute(conversationId) },
    ]);
  }
  const items: MenuItem[][] = groups.map((group) =>
    group.map((item) => ({
      label: item.label,
      run: () => {
        onError(undefined);
        item.run().catch((error: unknown) => onError((item.describe ?? describeError)(error)));
      },
    })),
  );

  return (
    <MenuButton label="Conversation options" items={items} testId="conversation-options" menuTestId="conversation-menu">
      <svg viewBox="0 0 20 20" aria-hidden="true">
        <circle cx="4.5" cy="10" r="1.6" fill="currentColor" />
        <circle cx="10" cy="10" r="1.6" fill="currentColor" />
        <circle cx="15.5" cy="10" r="1.6" fill="currentColor" />
      </svg>
    </MenuButton>
  );
}
