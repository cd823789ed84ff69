/** Setup helpers shared by the benchmarks: bounded concurrency and admin API calls. */

/** Runs task over items with at most `concurrency` in flight; results in input order. */
export async function inBatches<T, R>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** POSTs JSON to the admin API and returns the parsed answer; throws on any HTTP error. */
export async function adminPost<T>(httpUrl: string, adminKey: string, path: string, body: unknown): Promise<T> {
  const response = await fetch(httpUrl + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${path}: HTTP ${response.status} ${text}`);
  return JSON.parse(text) as T;
}
