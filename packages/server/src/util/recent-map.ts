/**
 * Sets `key` in a Map used as a bounded least-recently-used cache: the entry
 * is re-inserted so that the Map's order stays least recently used first,
 * and the oldest entry is dropped when the map already holds `maxEntries`.
 */
export function setMostRecent<K, V>(map: Map<K, V>, key: K, value: V, maxEntries: number): void {
  map.delete(key);
  if (map.size >= maxEntries) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
  map.set(key, value);
}
