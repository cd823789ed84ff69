/**
 * Hooks that give components the ChatStore and slices of its state (through
 * useSelected: a component re-renders only when the slice it selected changes).
 */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { useSelected } from '../use-selected.js';
import type { ChatState, ChatStore } from './chat-store.js';

export const ChatContext = createContext<ChatStore | undefined>(undefined);

export function useChatStore(): ChatStore {
  const store = useContext(ChatContext);
  if (store === undefined) throw new Error('useChatStore outside <ChatContext.Provider>');
  return store;
}

/** The selected slice of the chat state; re-renders when it changes. */
export function useChat<T>(select: (state: ChatState) => T): T {
  return useSelected(useChatStore(), select);
}
