/**
 * Pages that load as chunks of their own (the live room, the admin
 * dashboard): the chunk is fetched once; a fetch that fails is forgotten, so
 * that trying again fetches it again.
 */
import { useEffect, useState } from 'preact/hooks';

/** Wraps a dynamic import so that it runs once, unless it failed. */
export function chunkLoader<M>(load: () => Promise<M>): () => Promise<M> {
  let loading: Promise<M> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}

export interface ChunkState<M> {
  /** The module once loaded; 'failed' when the fetch failed; undefined while loading. */
  loaded: M | 'failed' | undefined;
  /** Fetches the chunk again after a failure. */
  retry(): void;
}

/** The chunk's module for a component that renders a loading line, a failure with "Try again", then the page. */
export function useChunk<M>(load: () => Promise<M>): ChunkState<M> {
  const [loaded, setLoaded] = useState<M | 'failed' | undefined>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (module) => current && setLoaded(() => module),
      () => current && setLoaded('failed'),
    );
    return () => {
      current = false;
    };
  }, [attempt]);
  return {
    loaded,
    retry() {
      setLoaded(undefined);
      setAttempt((count) => count + 1);
    },
  };
}
