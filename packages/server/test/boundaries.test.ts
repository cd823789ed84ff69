/**
 * Import boundaries of the server: the transport layers (http/, gateway/)
 * reach storage only through services, services never import an adapter, and
 * adapters never import each other.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = resolve(import.meta.dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of a file, as a path under src/ ("store/store.ts"). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)].map(
    (match) => (match[1] ?? match[2]) as string,
  );
  return specifiers.map((specifier) => relative(SRC, resolve(dirname(file), specifier)).replace(/\.js$/, '.ts'));
}

function violations(fromFolder: string, forbidden: (target: string) => boolean): string[] {
  return sourceFiles(join(SRC, fromFolder)).flatMap((file) =>
    importsOf(file)
      .filter(forbidden)
      .map((target) => `${relative(SRC, file)} imports ${target}`),
  );
}

test('the scan sees imports (guards the guard)', () => {
  assert.ok(importsOf(join(SRC, 'server.ts')).includes('store/store.ts'));
  assert.ok(importsOf(join(SRC, 'services', 'messaging.ts')).includes('store/store.ts'));
});

test('http/, gateway/ and mqtt/ never import the store: they call services', () => {
  const intoStore = (target: string) => target.startsWith('store/');
  assert.deepEqual([...violations('http', intoStore), ...violations('gateway', intoStore), ...violations('mqtt', intoStore)], []);
});

test('services depend on the Store port, never on an adapter, and never on transports', () => {
  const bad = (target: string) =>
    (target.startsWith('store/') && target !== 'store/store.ts') || target.startsWith('http/') || target.startsWith('gateway/') || target.startsWith('mqtt/');
  assert.deepEqual(violations('services', bad), []);
});

test('the SQLite adapter depends on the port only (types of the domain excepted)', () => {
  const bad = (target: string) => target.startsWith('http/') || target.startsWith('gateway/') || target.startsWith('bus/');
  assert.deepEqual(violations('store', bad), []);
});
