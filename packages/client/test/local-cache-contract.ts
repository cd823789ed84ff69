/**
 * The contract every LocalCache adapter passes: one suite, run against the
 * memory and file adapters in Node (local-cache.test.ts) and against the
 * IndexedDB adapter in Chromium (test/browser/local-cache.test.ts). It uses
 * nothing but the language, so that it can be bundled for a page as it is.
 */
import type { LocalCache } from '../src/cache/local-cache.js';

export interface ContractCase {
  name: string;
  /** `open` gives an adapter on the same storage each time (like a restarted app); throws on a broken promise. */
  run(open: () => LocalCache): Promise<void>;
}

function expectSame(actual: unknown, expected: unknown, what: string): void {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

export const localCacheContract: ContractCase[] = [
  {
    name: 'a key never written reads as undefined',
    async run(open) {
      expectSame(await open().read('parley:never written'), undefined, 'read');
    },
  },
  {
    name: 'a written text reads back exactly, also from a new adapter on the same storage',
    async run(open) {
      const text = JSON.stringify({ hello: 'wörld ✓ 📷', lines: 'a\nb', nul: '\u0000' });
      await open().write('parley:exact', text);
      expectSame(await open().read('parley:exact'), text, 'read after reopening');
    },
  },
  {
    name: 'a write replaces the previous text whole',
    async run(open) {
      const cache = open();
      await cache.write('parley:replace', 'x'.repeat(100_000));
      await cache.write('parley:replace', 'short');
      expectSame(await cache.read('parley:replace'), 'short', 'read');
    },
  },
  {
    name: 'keys are kept apart, also keys that differ only after a newline or in case',
    async run(open) {
      const cache = open();
      await cache.write('ws://host/ws\nalice', 'alice');
      await cache.write('ws://host/ws\nAlice', 'Alice');
      await cache.write('ws://other/ws\nalice', 'other server');
      expectSame(await cache.read('ws://host/ws\nalice'), 'alice', 'alice');
      expectSame(await cache.read('ws://host/ws\nAlice'), 'Alice', 'Alice');
      expectSame(await cache.read('ws://other/ws\nalice'), 'other server', 'other server');
    },
  },
  {
    name: 'remove forgets one key and leaves the others; removing a missing key is fine',
    async run(open) {
      const cache = open();
      await cache.write('parley:gone', 'a');
      await cache.write('parley:kept', 'b');
      await cache.remove('parley:gone');
      await cache.remove('parley:gone');
      await cache.remove('parley:never there');
      expectSame(await open().read('parley:gone'), undefined, 'removed');
      expectSame(await open().read('parley:kept'), 'b', 'kept');
    },
  },
  {
    name: 'concurrent writes to one key leave one of the texts whole',
    async run(open) {
      const cache = open();
      const texts = Array.from({ length: 8 }, (_, index) => String(index).repeat(10_000 + index));
      await Promise.all(texts.map((text) => cache.write('parley:race', text)));
      const read = await cache.read('parley:race');
      expectSame(read !== undefined && texts.includes(read), true, 'one whole text');
    },
  },
];
