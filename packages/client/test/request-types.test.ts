/**
 * The SDK's request() derives its reply type from the request table of
 * @parley/protocol: type-checks test/types/request-pairing.ts, whose
 * `@ts-expect-error` lines must each be an error.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

test('a request and a reply that do not belong together do not compile', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const file = fileURLToPath(new URL('./types/request-pairing.ts', import.meta.url));
  const result = spawnSync(
    process.execPath,
    [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', file],
    { encoding: 'utf8' },
  );
  assert.equal(result.status, 0, result.stdout + result.stderr);
});
