/**
 * The one way components read a store (the ChatStore, a live room's store):
 * a slice of its immutable state, re-rendering only when that slice changes
 * (Object.is), so a new message re-renders its conversation, not the whole app.
 */
import { useLayoutEffect, useReducer, useRef } from 'preact/hooks';

/** A store whose `state` is replaced, never mutated, and whose listeners hear of each replacement. */
export interface SelectableStore<S> {
  readonly state: S;
  subscribe(listener: () => void): () => void;
}

export function useSelected<S, T>(store: SelectableStore<S>, select: (state: S) => T): T {
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
