/**
 * Who else is typing in the open conversation, shown above its composer with
 * three moving dots (still for those who prefer reduced motion), and read out
 * politely by screen readers.
 */
import { useChat } from '../chat/use-chat.js';
import { nameOf, typingSentence } from '../format.js';

const NOBODY: readonly string[] = [];

export function TypingIndicator({ conversationId }: { conversationId: string }) {
  const typers = useChat((state) => state.typingIn.get(conversationId)) ?? NOBODY;
  const names = useChat((state) => state.names);
  const sentence = typingSentence(typers.map((userId) => nameOf(names, userId)));
  // The region stays in the page while empty: screen readers announce changes
  // to a live region they already know of, not one that appears with its text.
  return (
    <div class="typing-indicator" role="status" aria-live="polite" data-testid="typing-indicator" data-typing={sentence === '' ? 'false' : 'true'}>
      {sentence !== '' && (
        <>
          <span class="typing-dots" aria-hidden="true">
            <span />
            <span />
            <span />
          </span>
          <span class="typing-text">{sentence}</span>
        </>
      )}
    </div>
  );
}
