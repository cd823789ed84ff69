import type { Clock } from '@parley/protocol';

/**
 * Wraps an expensive read so that it runs at most once per `maxAgeMs`:
 * callers within that time share the last answer (or the read in flight).
 * A failed read is not kept.
 */
export function cachedFor<T>(maxAgeMs: number, read: () => Promise<T>, clock: Clock): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = clock.now();
    if (last === undefined || now - last.at >= maxAgeMs) {
      const value = read();
      const entry = { at: now, value };
      last = entry;
      value.catch(() => {
        if (last === entry) last = undefined;
      });
    }
    return last.value;
  };
}
