/**
 * docs/protocol.md is a contract for people writing clients in other
 * languages: its frame and error tables are generated from parley.proto and
 * the protocol package's tables, and must not drift from them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ErrorCode, REQUESTS, WireErrorCode, allErrors, errorInfo, isRequestCase } from '@parley/protocol';

const root = fileURLToPath(new URL('../../..', import.meta.url));

test('the generated tables of docs/protocol.md match the schema (npm run docs:gen)', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-protocol-docs.mjs', '--check'], { cwd: root, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr || result.stdout);
});

test('every error code of the schema has a name, a retry rule and a REST status', () => {
  const wireCodes = Object.values(WireErrorCode).filter((value): value is number => typeof value === 'number' && value > 0);
  assert.deepEqual(allErrors().map((error) => error.code).sort((a, b) => a - b), wireCodes.sort((a, b) => a - b));
  for (const code of wireCodes) assert.ok(errorInfo(code).httpStatus >= 400);
  assert.equal(ErrorCode.BAD_FRAME, WireErrorCode.ERROR_CODE_BAD_FRAME);
  assert.equal(errorInfo(9999).name, 'INTERNAL', 'unknown codes read as INTERNAL');
});

test('the request table pairs every request with a reply frame or none', () => {
  assert.equal(REQUESTS.send.reply, 'sendAck');
  assert.equal(REQUESTS.delivered.reply, null);
  assert.ok(isRequestCase('markRead'));
  assert.ok(!isRequestCase('push'));
  assert.ok(!isRequestCase('toString'));
});
