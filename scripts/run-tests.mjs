#!/usr/bin/env node
// Runs every package's tests with node's test runner (TypeScript through tsx).
// Test files: packages/*/test/**/*.test.ts and test/**/*.test.ts (cross-package). Extra arguments are passed to node --test
// (for example --test-name-pattern).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function testFiles(dir) {
  let found = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found = found.concat(testFiles(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const files = [...readdirSync('packages').flatMap((pkg) => testFiles(join('packages', pkg, 'test'))), ...testFiles('test')].sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// --test-force-exit: a test file whose tests all finished exits even when a
// handle is still closing; a teardown that never finishes must not hang the run.
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-force-exit', '--test-reporter=spec', ...process.argv.slice(2), ...files], {
  stdio: 'inherit',
});

// Skipped browser tests are easy to miss in the middle of the run: say it again last.
const { register } = await import('tsx/esm/api');
register();
const { INSTALL_HINT, findChromium } = await import('../test/browser/chromium.ts');
const chromium = findChromium();
if (chromium.kind === 'missing' && process.env.CI !== 'true') {
  const rule = '!'.repeat(78);
  console.error(`\n${rule}\n!! The browser tests (test/browser/) were SKIPPED: ${chromium.reason}.\n!! To run them: ${INSTALL_HINT}\n${rule}`);
}
// The same for the cluster suites (NATS, PostgreSQL): skipped only outside CI, and said so.
const { natsSkipReason } = await import('../packages/server/test/support/cluster-services.ts');
const natsSkipped = process.env.CI === 'true' ? undefined : await natsSkipReason();
if (natsSkipped !== undefined) {
  const rule = '!'.repeat(78);
  console.error(`\n${rule}\n!! The cluster suites (NATS bus contract, two nodes over NATS) were SKIPPED:\n!! ${natsSkipped}.\n${rule}`);
}
// test/cluster/ (three nodes in child processes) needs PostgreSQL and a nats-server binary as well.
const { clusterSkipReason } = await import('../test/cluster/support.ts');
const clusterSkipped = process.env.CI === 'true' ? undefined : (natsSkipped ?? (await clusterSkipReason({ natsServerBinary: true })));
if (clusterSkipped !== undefined) {
  const rule = '!'.repeat(78);
  console.error(`\n${rule}\n!! The three-node cluster tests (test/cluster/) were SKIPPED, some or all:\n!! ${clusterSkipped}.\n${rule}`);
}
process.exit(result.status ?? 1);
