/** Hooks that give the live room page's components its LiveRoomStore, slices of its state, and people's names. */
import { createContext } from 'preact';
import { useCallback, useContext } from 'preact/hooks';
import { useChat } from '../chat/use-chat.js';
import { useSelected } from '../use-selected.js';
import type { LiveRoomStore, LiveState } from './live-store.js';

export const LiveContext = createContext<LiveRoomStore | undefined>(undefined);

export function useLiveStore(): LiveRoomStore {
  const store = useContext(LiveContext);
  if (store === undefined) throw new Error('useLiveStore outside <LiveContext.Provider>');
  return store;
}

/** The selected slice of the live room's state; re-renders when it changes. */
export function useLive<T>(select: (state: LiveState) => T): T {
  return useSelected(useLiveStore(), select);
}

/** A display name for a user met in the room: the room's word for it (chat senders, top viewers), else the app's, else the id. */
export function useRoomName(): (userId: string) => string {
  const roomNames = useLive((state) => state.names);
  const names = useChat((state) => state.names);
  return useCallback((userId: string) => roomNames.get(userId) ?? names.get(userId) ?? userId, [roomNames, names]);
}
