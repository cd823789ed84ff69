/**
 * The browser entry: same client, no Node imports anywhere in its module
 * graph. That it connects with an injected standard WebSocket constructor is
 * tested against a real server in test/e2e/sdk.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { ParleyClient, type ParleyError } from '../src/browser.js';

const sourceDir = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** Every import specifier reachable from a source file, following relative imports. */
function importGraph(entry: string): Set<string> {
  const specifiers = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\s*\(\s*'([^']+)'\s*\)/g)) {
      const specifier = match[1] ?? match[2];
      if (specifier === undefined) continue;
      specifiers.add(specifier);
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
    }
  };
  visit(resolve(sourceDir, entry));
  return specifiers;
}

describe('browser entry', () => {
  it('imports nothing from Node or the ws package', () => {
    const external = [...importGraph('browser.ts')].filter((specifier) => !specifier.startsWith('.'));
    // tus-js-client (media uploads) ships a browser build that bundlers pick by its `browser` field;
    // idb is the IndexedDB local cache, which the Node entry never loads.
    assert.deepEqual(external.sort(), ['@parley/protocol', 'idb', 'tus-js-client']);
  });

  it('the Node entry does not load idb', () => {
    assert.ok(![...importGraph('index.ts')].includes('idb'));
  });

  it('the client core imports nothing runtime-specific either', () => {
    const external = [...importGraph('client.ts')].filter((specifier) => !specifier.startsWith('.'));
    assert.deepEqual(external.sort(), ['@parley/protocol']);
  });

  it('refuses TCP URLs', () => {
    assert.throws(
      () => new ParleyClient({ url: 'tcp://localhost:8081', token: 't', WebSocket }),
      (error: ParleyError) => error.codeName === 'INVALID_ARGUMENT',
    );
  });
});
