/**
 * Shutdown ends every connection: one that opened TCP to the HTTP port and
 * never sent a request would otherwise hold close() until Node's header
 * timeout (a minute) ran out.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startTestServer } from '../support/fixtures.js';

test('close() ends a connection that never sent a request, and resolves', async () => {
  const fixture = await startTestServer(undefined);
  const silent = connect(Number(new URL(fixture.server.httpUrl).port), '127.0.0.1');
  await once(silent, 'connect');
  const ended = once(silent, 'close');
  await fixture.close();
  await ended;
  assert.equal(silent.destroyed, true);
});
