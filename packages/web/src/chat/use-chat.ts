/**
 * Hooks that give components the ChatStore and slices of its state. A
 * component re-renders only when the slice it selected changes (Object.is),
 * so a new message re-renders its conversation, not the whole app.
 */
import { createContext } from 'preact';
import { useContext, useLayoutEffect, useReducer, useRef } from 'preact/hooks';
import type { ChatState, ChatStore } from './chat-store.js';

export const ChatContext = createContext<ChatStore | undefined>(undefined);

export function useChatStore(): ChatStore {
  const store = useContext(ChatContext);
  if (store === undefined) throw new Error('useChatStore outside <ChatContext.Provider>');
  return store;
}

/** The selected slice of the chat state; re-renders when it changes. */
export function useChat<T>(select: (state: ChatState) => T): T {
  const store = useChatStore();
  const [, rerender] = useReducer((count: number) => count + 1, 0);
  const selected = select(store.state);
  const latest = useRef({ select, selected });
  latest.current = { select, selected };
  // A layout effect, and a check right after subscribing: a change made
  // between this render and the subscription (a child's layout effect loading
  // something, a fast reply) must not be missed.
  useLayoutEffect(() => {
    const check = () => {
      const { select: currentSelect, selected: shown } = latest.current;
      if (!Object.is(currentSelect(store.state), shown)) rerender(0);
    };
    const unsubscribe = store.subscribe(check);
    check();
    return unsubscribe;
  }, [store]);
  return selected;
}
