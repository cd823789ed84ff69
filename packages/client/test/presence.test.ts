/** The SDK's presence bookkeeping: what a watcher holds of each watched user, and which away state is due to be sent. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PresenceState } from '@parley/protocol';
import { AwayState, PresenceBook } from '../src/presence.js';

const wire = (userId: string, state: PresenceState, lastSeen = 0) => ({ userId, state, lastSeen });

test('only watched users are kept; each change is reported once; a new list forgets the others', () => {
  const book = new PresenceBook();
  book.watch(['bob', 'cat', 'bob']);
  assert.deepEqual(book.watched, ['bob', 'cat']);
  assert.deepEqual(book.apply([wire('bob', PresenceState.PRESENCE_STATE_ONLINE), wire('dan', PresenceState.PRESENCE_STATE_ONLINE)]), [{ userId: 'bob', state: 'online' }]);
  assert.deepEqual(book.apply([wire('bob', PresenceState.PRESENCE_STATE_ONLINE)]), [], 'no change, nothing reported');
  assert.deepEqual(book.apply([wire('bob', PresenceState.PRESENCE_STATE_OFFLINE, 1234)]), [{ userId: 'bob', state: 'offline', lastSeen: 1234 }]);
  assert.deepEqual(book.apply([wire('cat', PresenceState.PRESENCE_STATE_UNKNOWN, 99)]), [{ userId: 'cat', state: 'unknown' }], 'a last seen only with offline');
  book.watch(['cat']);
  assert.equal(book.of('bob'), undefined);
  assert.deepEqual(book.of('cat'), { userId: 'cat', state: 'unknown' });
});

test('away: the latest wanted value is due once at a time, and again on a new connection', () => {
  const away = new AwayState();
  assert.equal(away.due(), undefined, 'active, as a new connection is');
  away.set(true);
  assert.equal(away.due(), true);
  away.set(false);
  assert.equal(away.due(), undefined, 'one at a time');
  away.settled(true);
  assert.equal(away.due(), false, 'then the latest');
  away.settled(undefined);
  assert.equal(away.due(), false, 'a failed one is due again');
  away.settled(false);
  assert.equal(away.due(), undefined);
  away.set(true);
  assert.equal(away.due(), true);
  away.settled(true);
  away.reset();
  assert.equal(away.due(), true, 'a new connection starts active: away is sent again');
});
