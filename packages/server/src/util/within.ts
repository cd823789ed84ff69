/**
 * `promise`'s value if it settles within `ms`, else `fallback`; a rejection
 * also gives `fallback`. For answers that must come back in bounded time
 * whatever a dependency does (a liveness check, a hello waiting on the bus).
 */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise.catch(() => fallback), late]);
  } finally {
    clearTimeout(timer);
  }
}
