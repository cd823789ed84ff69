/**
 * The Store contract: every behaviour the services rely on, run against any
 * adapter. Most checks go through the real services over the adapter (that is
 * how the server uses it); a few pin port primitives directly. Adapter-neutral:
 * an adapter passes by giving a factory of fresh databases.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type MessageContent, ParleyError } from '@parley/protocol';
import { LocalBus } from '../../src/bus/local-bus.js';
import { DEFAULT_ROOM_LIMITS, DEFAULT_SERVER_LIMITS } from '../../src/config.js';
import { ConversationService } from '../../src/services/conversations.js';
import { DevAccountService } from '../../src/services/dev-accounts.js';
import { DEFAULT_MEDIA_LIMITS, MediaService } from '../../src/services/media.js';
import { MessagingService } from '../../src/services/messaging.js';
import { RoomService } from '../../src/services/rooms.js';
import { SearchService } from '../../src/services/search.js';
import { LocalDiskMediaStore } from '../../src/media/local-disk-store.js';
import { UserService } from '../../src/services/users.js';
import { totalUnread } from '../../src/services/views.js';
import type { ConversationRow, FeedMessage, FeedPosition, MediaRow, MemberRow, Store, WebPushSubscriptionRow } from '../../src/store/store.js';

/** A fresh, empty database. `open` may be called again after the store it gave was closed: same data. */
export interface StoreDatabase {
  open(): Promise<Store>;
  destroy(): Promise<void>;
}

interface Domain {
  store: Store;
  users: UserService;
  messaging: MessagingService;
  conversations: ConversationService;
  accounts: DevAccountService;
  rooms: RoomService;
  search: SearchService;
}

function domainOver(store: Store): Domain {
  const bus = new LocalBus();
  const limits = { ...DEFAULT_SERVER_LIMITS, maxGroupMembers: 5000 };
  return {
    store,
    users: new UserService(store, bus),
    // Typed content without uploads (locations) needs no bytes: the media store is never written.
    messaging: new MessagingService(store, bus, limits, undefined, new MediaService(store, new LocalDiskMediaStore(join(tmpdir(), 'parley-unused-media')), DEFAULT_MEDIA_LIMITS, 'secret')),
    conversations: new ConversationService(store, bus, limits),
    accounts: new DevAccountService(store),
    rooms: new RoomService(store, bus, limits, DEFAULT_ROOM_LIMITS),
    search: new SearchService(store),
  };
}

/** The feed's order: commit version, then conversation id compared bytewise (not by locale), then seq. */
function feedOrder(x: FeedPosition, y: FeedPosition): number {
  return x.version - y.version || Buffer.compare(Buffer.from(x.conversationId), Buffer.from(y.conversationId)) || x.seq - y.seq;
}

/** Where the feed goes on after `message`. */
function positionAfter(message: FeedMessage): FeedPosition {
  return { version: message.version, conversationId: message.conversationId, seq: message.seq };
}

/** Every message after `after`, read `limit` at a time, each page resuming after the last message of the one before. */
async function readFeedInPages(store: Store, after: FeedPosition, limit: number): Promise<FeedMessage[]> {
  const messages: FeedMessage[] = [];
  for (let position = after; ; ) {
    const page = await store.messageFeed(position, limit);
    if (page.length === 0) return messages;
    assert.ok(page.length <= limit);
    messages.push(...page);
    position = positionAfter(page[page.length - 1]!);
  }
}

/** A member row's own settings, only the keys it has: an unset setting must be absent, not undefined. */
function settingsOf(member: MemberRow | undefined): Partial<Pick<MemberRow, 'mutedUntil' | 'pinnedAt' | 'draft'>> {
  assert.ok(member !== undefined, 'the membership exists');
  const { mutedUntil, pinnedAt, draft } = member;
  return Object.fromEntries(Object.entries({ mutedUntil, pinnedAt, draft }).filter(([key]) => key in member));
}

/** `skip`: why the adapter's database is missing (the suite is then reported as skipped, with the reason). */
export function storeContract(name: string, createDatabase: () => Promise<StoreDatabase>, skip?: string): void {
  describe(`Store contract: ${name}`, { skip }, () => {
    async function setup(
      t: { after(fn: () => unknown): void },
      userIds: string[] = [],
    ): Promise<Domain & { database: StoreDatabase; reopen(): Promise<Domain> }> {
      const database = await createDatabase();
      const opened: Store[] = [await database.open()];
      t.after(async () => {
        for (const store of opened) await store.close();
        await database.destroy();
      });
      const domain = domainOver(opened[0]!);
      await Promise.all(userIds.map((id) => domain.users.putUser(id, id.toUpperCase())));
      const reopen = async () => {
        for (const store of opened) await store.close();
        const store = await database.open();
        opened.push(store);
        return domainOver(store);
      };
      return { ...domain, database, reopen };
    }

    test('concurrent sends get dense seqs per conversation, each sender keeping its order', async (t) => {
      const { messaging, conversations } = await setup(t, ['a', 'b', 'c']);
      const ab = await conversations.openDirect('a', 'b', '');
      const bc = await conversations.openDirect('b', 'c', 'item');
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['b', 'c'] });
      const targets = [
        { id: ab.id, senders: ['a', 'b'] },
        { id: bc.id, senders: ['b', 'c'] },
        { id: 'g', senders: ['a', 'b', 'c'] },
      ];
      const sends = Array.from({ length: 450 }, (_, n) => {
        const target = targets[n % 3]!;
        const senderId = target.senders[n % target.senders.length]!;
        return { conversationId: target.id, senderId, clientMsgId: `m${n}`, n };
      });
      const results = await Promise.all(sends.map((send) => messaging.send(send.senderId, { conversationId: send.conversationId, clientMsgId: send.clientMsgId, text: String(send.n) })));
      for (const target of targets) {
        const seqs = results.filter((result) => result.message.conversationId === target.id).map((result) => result.message.seq);
        const offset = target.id === 'g' ? 1 : 0; // seq 1 of a group is its group_created event
        assert.deepEqual(seqs, Array.from({ length: 150 }, (_, n) => n + 1 + offset), `dense and in request order in ${target.id}`);
        const pulled = await messaging.pull(target.senders[0]!, target.id, 1, 0, 500, false);
        assert.deepEqual(pulled.messages.map((message) => message.seq), Array.from({ length: 150 + offset }, (_, n) => n + 1));
      }
    });

    test('threads: replies name their root, the root counts them; follows are rows with read positions that only rise, stamping the member; counts and filters over them', async (t) => {
      const { store, messaging, conversations } = await setup(t, ['a', 'b', 'c']);
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['b', 'c'] });
      const send = (senderId: string, n: number, threadRoot?: number) => messaging.send(senderId, { conversationId: 'g', clientMsgId: `t${n}`, text: `m${n}`, threadRoot });
      const root = (await send('a', 0)).message;
      const other = (await send('b', 1)).message;
      await store.write(async (tx) => {
        const conversation = await tx.lockConversation('g');
        assert.ok(conversation);
        for (const [n, senderId] of ['b', 'c', 'b'].entries()) {
          const seq = conversation.lastSeq + 1;
          await tx.insertMessage({ conversationId: 'g', seq, senderId, clientMsgId: `reply${n}`, type: 'user', text: `r${n}`, createdAt: 1000 + n, threadRoot: root.seq });
          await tx.updateConversation('g', { lastSeq: seq, updatedAt: 1000 + n });
          conversation.lastSeq = seq;
          await tx.addThreadReply('g', root.seq, seq, 1000 + n);
        }
      });
      const [readRoot] = await store.listMessages({ conversationId: 'g', fromSeq: root.seq, toSeq: root.seq, limit: 1 });
      assert.deepEqual(readRoot?.thread, { replies: 3, lastSeq: other.seq + 3, lastAt: 1002 }, 'the root carries its count and newest reply');
      const replies = await store.listMessages({ conversationId: 'g', fromSeq: 1, toSeq: 100, threadRoot: root.seq, limit: 10 });
      assert.deepEqual(replies.map((message) => [message.text, message.threadRoot]), [['r0', root.seq], ['r1', root.seq], ['r2', root.seq]]);
      const main = await store.listMessages({ conversationId: 'g', fromSeq: 2, toSeq: 100, mainOnly: true, limit: 10 });
      assert.deepEqual(main.map((message) => message.seq), [root.seq, other.seq], 'the timeline without replies');
      assert.equal(await store.countMessages({ conversationId: 'g', fromSeq: 1, toSeq: 100, type: 'user', mainOnly: true }), 2);

      const before = await store.syncVersion();
      assert.equal(await store.write((tx) => tx.followThread('g', root.seq, 'a', root.seq)), true);
      assert.equal(await store.write((tx) => tx.followThread('g', root.seq, 'a', 999)), false, 'following twice keeps the first read position');
      assert.deepEqual((await store.membershipsOf('a', { changedSince: before })).map((membership) => membership.conversation.id), ['g'], 'following stamps the member');
      assert.equal((await store.getMember('g', 'a'))?.threadsFollowed, 1);
      assert.equal((await store.getMember('g', 'b'))?.threadsFollowed, undefined);
      assert.deepEqual([...(await store.threadFollows('g', 'a'))], [[root.seq, root.seq]]);
      assert.deepEqual(await store.threadFollowers('g', root.seq, 10), ['a']);
      const filter = { conversationId: 'g', fromSeq: 1, toSeq: 100, type: 'user' as const, excludeSender: 'a' };
      assert.equal(await store.countFollowedReplies(filter, 'a'), 3);
      assert.equal(await store.countFollowedReplies({ ...filter, excludeSender: 'b' }, 'a'), 1, 'the filter applies to the replies');
      assert.equal(await store.countFollowedReplies(filter, 'c'), 0, 'nothing for a user who follows nothing');

      const beforeRead = await store.syncVersion();
      assert.equal(await store.write((tx) => tx.raiseThreadRead('g', root.seq, 'a', other.seq + 2)), true);
      assert.equal(await store.write((tx) => tx.raiseThreadRead('g', root.seq, 'a', other.seq + 1)), false, 'never back');
      assert.equal(await store.write((tx) => tx.raiseThreadRead('g', root.seq, 'c', other.seq + 3)), false, 'nothing for a non-follower');
      assert.deepEqual((await store.membershipsOf('a', { changedSince: beforeRead })).map((membership) => membership.conversation.id), ['g']);
      assert.equal(await store.countFollowedReplies(filter, 'a'), 1);
      const behind = await store.membershipsOf('a', { behindOnly: true });
      assert.deepEqual(behind.map((membership) => membership.conversation.id), ['g'], 'a follower is listed as behind, whatever its read position');
    });

    test('delivered positions only rise, for active members only, without a sync version; senders are listed per range', async (t) => {
      const { store, messaging, conversations } = await setup(t, ['a', 'b', 'c']);
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['b', 'c'] });
      for (const [n, senderId] of ['a', 'b', 'a', 'c'].entries()) await messaging.send(senderId, { conversationId: 'g', clientMsgId: `r${n}`, text: String(n) });
      const version = await store.syncVersion();
      await store.write(async (tx) => {
        await tx.raiseDeliveredSeq('g', 'b', 4);
        await tx.raiseDeliveredSeq('g', 'b', 2);
        await tx.raiseDeliveredSeq('g', 'nobody', 3);
      });
      assert.equal((await store.getMember('g', 'b'))?.deliveredSeq, 4, 'never lowered');
      assert.equal((await store.getMember('g', 'c'))?.deliveredSeq, undefined, 'none yet reads as absent');
      assert.deepEqual(await store.membershipsOf('b', { changedSince: version }), [], 'no sync version stamped: no device view changes');
      await conversations.updateMembers('a', 'g', [], ['c']);
      await store.write((tx) => tx.raiseDeliveredSeq('g', 'c', 5));
      assert.equal((await store.getMember('g', 'c'))?.deliveredSeq, undefined, 'a past member does not move');
      // Seq 1 is the group_created event (a system message, not counted).
      assert.deepEqual((await store.senderIdsBetween('g', 1, 5, 10)).sort(), ['a', 'b', 'c']);
      assert.deepEqual(await store.senderIdsBetween('g', 3, 3, 10), ['b']);
      assert.deepEqual(await store.senderIdsBetween('g', 1, 1, 10), [], 'system messages have no sender to tell');
      assert.equal((await store.senderIdsBetween('g', 1, 5, 2)).length, 2, 'bounded');
      assert.deepEqual(await store.senderIdsBetween('nowhere', 1, 5, 10), []);
    });

    test('a user keeps their read receipts setting; absent reads as on', async (t) => {
      const { store } = await setup(t, ['a']);
      assert.equal((await store.getUser('a'))?.readReceiptsOff, undefined);
      await store.write((tx) => tx.updateUser('a', { readReceiptsOff: true }));
      assert.equal((await store.getUser('a'))?.readReceiptsOff, true);
      assert.equal((await store.getUsers(['a']))[0]?.readReceiptsOff, true);
      await store.write((tx) => tx.updateUser('a', { name: 'Renamed' }));
      assert.deepEqual([(await store.getUser('a'))?.name, (await store.getUser('a'))?.readReceiptsOff], ['Renamed', true], 'other changes keep it');
      await store.write((tx) => tx.updateUser('a', { readReceiptsOff: false }));
      assert.equal((await store.getUser('a'))?.readReceiptsOff, undefined);
    });

    test('a user keeps their presence setting and last seen, also after a reopen; other changes keep them', async (t) => {
      const { store, reopen } = await setup(t, ['a']);
      const before = await store.getUser('a');
      assert.deepEqual([before?.hidePresence, before?.lastSeenAt], [undefined, undefined], 'absent: shown, never seen');
      await store.write((tx) => tx.updateUser('a', { hidePresence: true, lastSeenAt: 1_700_000_000_123 }));
      await store.write((tx) => tx.updateUser('a', { readReceiptsOff: true }));
      const reopened = (await reopen()).store;
      await reopened.write((tx) => tx.updateUser('a', { name: 'Renamed' }));
      const after = (await reopened.getUsers(['a']))[0];
      assert.deepEqual([after?.name, after?.hidePresence, after?.lastSeenAt, after?.readReceiptsOff], ['Renamed', true, 1_700_000_000_123, true]);
      await reopened.write((tx) => tx.updateUser('a', { hidePresence: false, lastSeenAt: 1_700_000_000_999 }));
      const shown = await reopened.getUser('a');
      assert.deepEqual([shown?.hidePresence, shown?.lastSeenAt], [undefined, 1_700_000_000_999]);
    });

    test('a user keeps their badge setting; absent reads as off; other changes keep it', async (t) => {
      const { store, reopen } = await setup(t, ['a']);
      assert.equal((await store.getUser('a'))?.hideMutedFromBadge, undefined);
      await store.write((tx) => tx.updateUser('a', { hideMutedFromBadge: true }));
      await store.write((tx) => tx.updateUser('a', { hidePresence: true }));
      const reopened = (await reopen()).store;
      assert.deepEqual([(await reopened.getUser('a'))?.hideMutedFromBadge, (await reopened.getUsers(['a']))[0]?.hidePresence], [true, true]);
      await reopened.write((tx) => tx.updateUser('a', { hideMutedFromBadge: false }));
      assert.equal((await reopened.getUser('a'))?.hideMutedFromBadge, undefined);
    });

    test('shared members: of the candidates, those in an active direct chat or group with the user', async (t) => {
      const { store, conversations } = await setup(t, ['a', 'b', 'c', 'd', 'e']);
      await conversations.openDirect('a', 'b', '');
      await conversations.createGroup('c', { id: 'g', name: 'G', memberIds: ['a', 'd'] });
      assert.deepEqual((await store.sharedMembersOf('a', ['b', 'c', 'd', 'e', 'nobody'])).sort(), ['b', 'c', 'd']);
      assert.deepEqual(await store.sharedMembersOf('e', ['a', 'b']), [], 'no conversation in common');
      await conversations.updateMembers('d', 'g', [], ['d']);
      assert.deepEqual((await store.sharedMembersOf('a', ['b', 'c', 'd'])).sort(), ['b', 'c'], 'a member who left shares it no longer');
      assert.deepEqual(await store.sharedMembersOf('nobody', ['a']), []);
      assert.deepEqual(await store.sharedMembersOf('a', []), []);
    });

    test('opening one direct conversation many times at once gives one conversation with two members', async (t) => {
      const { store, conversations } = await setup(t, ['a', 'b']);
      const views = await Promise.all(Array.from({ length: 20 }, (_, n) => (n % 2 ? conversations.openDirect('a', 'b', 'x') : conversations.openDirect('b', 'a', 'x'))));
      assert.equal(new Set(views.map((view) => view.id)).size, 1);
      assert.deepEqual((await store.activeMembers(views[0]!.id)).map((member) => member.userId).sort(), ['a', 'b']);
      assert.equal(await store.countActiveMembers(views[0]!.id), 2);
    });

    test('a repeated clientMsgId returns the original message; in another conversation it is a CONFLICT', async (t) => {
      const { messaging, conversations } = await setup(t, ['a', 'b', 'c']);
      const ab = await conversations.openDirect('a', 'b', '');
      const ac = await conversations.openDirect('a', 'c', '');
      const [first, racing] = await Promise.all([
        messaging.send('a', { conversationId: ab.id, clientMsgId: 'once', text: 'original' }),
        messaging.send('a', { conversationId: ab.id, clientMsgId: 'once', text: 'retry in flight' }),
      ]);
      assert.equal(first.duplicate, false);
      assert.equal(racing.duplicate, true);
      const retry = await messaging.send('a', { conversationId: ab.id, clientMsgId: 'once', text: 'changed' });
      assert.deepEqual([retry.duplicate, retry.message.id, retry.message.seq, retry.message.text], [true, first.message.id, first.message.seq, 'original']);
      await assert.rejects(messaging.send('a', { conversationId: ac.id, clientMsgId: 'once', text: 'x' }), { name: 'CONFLICT' });
      // Another sender may use the same id.
      const other = await messaging.send('b', { conversationId: ab.id, clientMsgId: 'once', text: 'b' });
      assert.equal(other.duplicate, false);
      assert.equal((await messaging.pull('a', ab.id, 1, 0, 10, false)).messages.length, 2);
    });

    test('the store refuses a second row for one (sender, clientMsgId) by itself', async (t) => {
      const { store, conversations } = await setup(t, ['a', 'b']);
      const ab = await conversations.openDirect('a', 'b', '');
      const message = { conversationId: ab.id, senderId: 'a', clientMsgId: 'dup', type: 'user' as const, text: 'x', createdAt: Date.now() };
      await store.write(async (tx) => {
        await tx.insertMessage({ ...message, seq: 1 });
        await tx.updateConversation(ab.id, { lastSeq: 1 });
      });
      await assert.rejects(store.write((tx) => tx.insertMessage({ ...message, seq: 2 })), { name: 'CONFLICT' });
    });

    test('a unit that throws leaves nothing behind, and units beside it still commit', async (t) => {
      const { store, users, conversations } = await setup(t, ['a', 'b']);
      const ab = await conversations.openDirect('a', 'b', '');
      const versionBefore = await store.syncVersion();
      const failing = store.write(async (tx) => {
        await tx.insertUser({ id: 'ghost', name: 'Ghost', createdAt: 1, tokensValidAfter: 0 });
        await tx.insertMessage({ conversationId: ab.id, seq: 1, senderId: 'a', clientMsgId: 'ghost', type: 'user', text: 'x', createdAt: 1 });
        await tx.updateConversation(ab.id, { lastSeq: 1 });
        await tx.raiseReadSeq(ab.id, 'a', 1);
        throw new ParleyError('INVALID_ARGUMENT', 'changed my mind');
      });
      const beside = users.putUser('c', 'C');
      await assert.rejects(failing, { name: 'INVALID_ARGUMENT' });
      await beside;
      assert.equal(await store.getUser('ghost'), undefined);
      assert.equal((await store.getConversation(ab.id))?.lastSeq, 0);
      assert.equal((await store.getMember(ab.id, 'a'))?.readSeq, 0);
      assert.equal(await store.messageByClientId('a', 'ghost'), undefined);
      assert.equal((await store.getUser('c'))?.name, 'C');
      // The ghost user id is free again.
      await users.putUser('ghost', 'Real');
      assert.equal((await store.getUser('ghost'))?.name, 'Real');
      assert.ok((await store.syncVersion()) > versionBefore);
    });

    test('the database identity: the same for every opener and after a reopen, another for another database', async (t) => {
      const { store, database, reopen } = await setup(t, ['a']);
      const id = await store.databaseId();
      assert.match(id, /^[0-9a-f]{14}$/);
      const second = await database.open();
      const seenBySecond = await second.databaseId();
      await second.close();
      assert.equal(seenBySecond, id);
      const { store: reopened } = await reopen();
      assert.equal(await reopened.databaseId(), id);
      const other = await setup(t);
      assert.notEqual(await other.store.databaseId(), id);
    });

    test('a write resolves only once committed: another connection to the database sees it', async (t) => {
      const { messaging, conversations, database } = await setup(t, ['a', 'b']);
      const ab = await conversations.openDirect('a', 'b', '');
      const sent = await messaging.send('a', { conversationId: ab.id, clientMsgId: 'durable', text: 'kept' });
      const second = await database.open();
      const found = await second.messageByClientId('a', 'durable');
      await second.close();
      assert.equal(found?.seq, sent.message.seq);
      assert.equal(found?.text, 'kept');
    });

    test('access windows: a removed member reads up to its removal, cannot send; added back, it reads both windows and nothing from while it was out', async (t) => {
      const { messaging, conversations } = await setup(t, ['o', 'm']);
      await conversations.createGroup('o', { id: 'g', name: 'G', memberIds: ['m'] });
      await messaging.send('o', { conversationId: 'g', clientMsgId: 'before', text: 'before' });
      const removal = await conversations.updateMembers('o', 'g', [], ['m']);
      const leftSeq = removal.messages[0]!.seq;
      await messaging.send('o', { conversationId: 'g', clientMsgId: 'after', text: 'after' });
      const range = await messaging.pull('m', 'g', 1, 0, 100, false);
      assert.deepEqual(range.messages.map((message) => message.text ?? message.type), ['system', 'before', 'system']);
      assert.equal(range.coveredTo, leftSeq);
      assert.equal(range.lastSeq, leftSeq);
      await assert.rejects(messaging.send('m', { conversationId: 'g', clientMsgId: 'nope', text: 'x' }), { name: 'FORBIDDEN' });
      const pastView = (await messaging.sync('m', 0)).conversations.find((view) => view.id === 'g');
      assert.deepEqual([pastView?.active, pastView?.leftSeq, pastView?.lastMessage?.type], [false, leftSeq, 'system']);

      const rejoin = await conversations.updateMembers('o', 'g', ['m'], []);
      const addedSeq = rejoin.messages[0]!.seq;
      await messaging.send('o', { conversationId: 'g', clientMsgId: 'back', text: 'welcome back' });
      // Ascending: every seq, the one from while it was out as a placeholder.
      const again = await messaging.pull('m', 'g', 1, 0, 100, false);
      assert.equal(again.coveredFrom, 1);
      assert.deepEqual(
        again.messages.map((message) => (message.hidden ? 'hidden' : (message.text ?? message.type))),
        ['system', 'before', 'system', 'hidden', 'system', 'welcome back'],
      );
      // A device that was behind when the member left and came back can still fetch its earlier window.
      const earlier = await messaging.pull('m', 'g', 2, addedSeq - 1, 100, false);
      assert.deepEqual(earlier.messages.map((message) => (message.hidden ? 'hidden' : (message.text ?? message.type))), ['before', 'system', 'hidden']);
      // History (descending) skips the absence altogether, also across pages.
      const history = await messaging.pull('m', 'g', 1, 0, 100, true);
      assert.deepEqual(history.messages.map((message) => message.text ?? message.type), ['system', 'before', 'system', 'system', 'welcome back']);
      const page = await messaging.pull('m', 'g', 1, addedSeq, 2, true);
      assert.deepEqual(page.messages.map((message) => message.text ?? message.type), ['system', 'system']);
      assert.equal(page.coveredFrom, leftSeq);
      const view = (await messaging.sync('m', 0)).conversations.find((candidate) => candidate.id === 'g');
      assert.deepEqual([view?.active, view?.firstSeq, view?.readSeq, view?.unread, view?.memberCount], [true, 1, addedSeq - 1, 1, 2]);
    });

    test('unread: own, system and messages addressed to others never count; the total is the sum; reads never move back', async (t) => {
      const { messaging, conversations } = await setup(t, ['a', 'b', 'c']);
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['b', 'c'] });
      const direct = await conversations.openDirect('a', 'b', 'item-1');
      await messaging.send('a', { conversationId: 'g', clientMsgId: '1', text: 'to all' });
      await messaging.send('a', { conversationId: 'g', clientMsgId: '2', text: 'only c', visibleTo: 'c' });
      await messaging.send('b', { conversationId: 'g', clientMsgId: '3', text: 'mine' });
      await messaging.send('a', { conversationId: direct.id, clientMsgId: '4', text: 'dm' });
      await messaging.send('a', { conversationId: direct.id, clientMsgId: '5', text: 'dm2' });
      const b = await messaging.sync('b', 0);
      const c = await messaging.sync('c', 0);
      // Sending reads up to your own message: b has read the group.
      assert.deepEqual(Object.fromEntries(b.conversations.map((view) => [view.id, view.unread])), { g: 0, [direct.id]: 2 });
      assert.equal(b.totalUnread, 2);
      assert.deepEqual(c.conversations.map((view) => view.unread), [3]);
      assert.equal(c.totalUnread, 3);
      assert.equal(await messaging.totalUnread('c'), 3);
      // b sees a placeholder for the message addressed to c, in its place.
      const forB = await messaging.pull('b', 'g', 1, 0, 10, false);
      assert.deepEqual(forB.messages.map((message) => (message.hidden ? 'hidden' : (message.text ?? message.type))), ['system', 'to all', 'hidden', 'mine']);
      const history = await messaging.pull('b', 'g', 0, 0, 10, true);
      assert.deepEqual(history.messages.map((message) => message.text ?? message.type), ['system', 'to all', 'mine']);
      // seq 1 group_created, 2 "to all", 3 "only c", 4 "mine".
      const read = await messaging.markRead('c', 'g', 2);
      assert.deepEqual([read.view.unread, read.totalUnread], [2, 2]);
      const back = await messaging.markRead('c', 'g', 1);
      assert.equal(back.view.readSeq, 2, 'read positions never move back');
      const all = await messaging.markRead('c', 'g', 0);
      assert.deepEqual([all.view.readSeq, all.view.unread, all.totalUnread], [4, 0, 0]);
    });

    test('a group message is stored once: no member row of the other members changes', async (t) => {
      const memberIds = Array.from({ length: 300 }, (_, n) => `u${n}`);
      const { store, messaging, conversations } = await setup(t, ['owner', ...memberIds]);
      await conversations.createGroup('owner', { id: 'big', name: 'Big', memberIds });
      const before = await store.activeMembers('big');
      for (let n = 0; n < 20; n++) await messaging.send('owner', { conversationId: 'big', clientMsgId: `g${n}`, text: 'hello all' });
      const after = await store.activeMembers('big');
      const others = (rows: typeof before) => rows.filter((row) => row.userId !== 'owner').sort((x, y) => x.userId.localeCompare(y.userId));
      assert.deepEqual(others(after), others(before));
      assert.equal((await store.getConversation('big'))?.lastSeq, 21);
      const view = (await messaging.sync('u7', 0)).conversations[0];
      assert.equal(view?.unread, 20);
    });

    test('direct conversations are named after the peer; groups by their name; ownership hands over', async (t) => {
      const { messaging, conversations, users } = await setup(t, ['a', 'b', 'c']);
      const forA = await conversations.openDirect('a', 'b', '');
      const forB = await conversations.openDirect('b', 'a', '');
      assert.equal(forA.id, forB.id);
      assert.deepEqual([forA.name, forA.peerId, forB.name, forB.peerId], ['B', 'b', 'A', 'a']);
      await users.putUser('b', 'Bea');
      assert.equal((await messaging.sync('a', 0)).conversations[0]?.name, 'Bea');
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['b', 'c'] });
      await conversations.rename('a', 'g', 'Renamed');
      await conversations.setRole('a', 'g', 'b', 'owner');
      const members = Object.fromEntries((await conversations.members('c', 'g')).map((member) => [member.userId, member.role]));
      assert.deepEqual(members, { a: 'admin', b: 'owner', c: 'member' });
      await assert.rejects(conversations.rename('c', 'g', 'nope'), { name: 'FORBIDDEN' });
      const view = (await messaging.sync('c', 0)).conversations.find((candidate) => candidate.id === 'g');
      assert.equal(view?.name, 'Renamed');
    });

    test('the sync version grows with every commit, selects what changed, and survives a reopen', async (t) => {
      const { store, reopen, messaging, conversations } = await setup(t, ['a', 'b', 'c']);
      const ab = await conversations.openDirect('a', 'b', '');
      const ac = await conversations.openDirect('a', 'c', '');
      const first = await messaging.sync('b', 0);
      assert.deepEqual(first.conversations.map((view) => view.id), [ab.id]);
      await messaging.send('a', { conversationId: ac.id, clientMsgId: 'x', text: 'to c' });
      const unchanged = await messaging.sync('b', first.version);
      assert.deepEqual(unchanged.conversations, [], 'a conversation b is not in did not change b');
      assert.ok(unchanged.version > first.version);
      await messaging.send('a', { conversationId: ab.id, clientMsgId: 'y', text: 'to b' });
      const changed = await messaging.sync('b', unchanged.version);
      assert.deepEqual(changed.conversations.map((view) => [view.id, view.unread]), [[ab.id, 1]]);
      const versions: number[] = [];
      for (let n = 0; n < 5; n++) {
        await messaging.send('a', { conversationId: ab.id, clientMsgId: `v${n}`, text: 'v' });
        versions.push(await store.syncVersion());
      }
      assert.deepEqual([...versions].sort((x, y) => x - y), versions);
      assert.equal(new Set(versions).size, versions.length);

      const domain = await reopen();
      assert.equal(await domain.store.syncVersion(), versions[versions.length - 1]);
      await domain.messaging.markRead('b', ab.id, 0);
      const afterReopen = await domain.messaging.sync('b', versions[versions.length - 1]!);
      assert.deepEqual(afterReopen.conversations.map((view) => [view.id, view.unread]), [[ab.id, 0]]);
      assert.ok(afterReopen.version > versions[versions.length - 1]!);
    });

    test('the message feed: every conversation in commit order, paged without gaps or repeats, with each commit\'s version', async (t) => {
      const { store, messaging, conversations } = await setup(t, ['a', 'b', 'c']);
      const start = { version: await store.syncVersion(), conversationId: '', seq: 0 };
      const ab = await conversations.openDirect('a', 'b', '');
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['b', 'c'] });
      // Concurrent sends: several may share a commit (SQLite batches them); the feed still gives each once.
      const sent = await Promise.all(
        Array.from({ length: 30 }, (_, n) => messaging.send(n % 2 ? 'a' : 'b', { conversationId: n % 3 ? ab.id : 'g', clientMsgId: `f${n}`, text: `#${n}`, data: n === 4 ? new Uint8Array([0, 255]) : undefined })),
      );
      await assert.rejects(store.write(async (tx) => {
        await tx.insertMessage({ conversationId: ab.id, seq: 999, senderId: 'a', clientMsgId: 'undone', type: 'user', text: 'never', createdAt: 1 });
        throw new ParleyError('INVALID_ARGUMENT', 'undo');
      }));
      const versionAfter = await store.syncVersion();
      const all = await store.messageFeed(start, 1000);
      assert.equal(all.length, 31, 'the 30 sends and the group_created event; nothing of the unit that threw');
      const versions = all.map((message) => message.version);
      assert.deepEqual([...versions].sort((x, y) => x - y), versions, 'in commit order');
      assert.deepEqual(all.map((message) => message.id), [...all].sort(feedOrder).map((message) => message.id), 'then by conversation id and seq');
      assert.ok(versions.every((version) => version > start.version && version <= versionAfter));
      for (const result of sent) {
        const fed = all.find((message) => message.id === result.message.id);
        assert.ok(fed !== undefined, `message ${result.message.clientMsgId} is in the feed`);
        const { version: _version, ...message } = fed;
        assert.deepEqual(message, result.message, 'the same message as stored');
      }
      for (const id of [ab.id, 'g']) {
        const seqs = all.filter((message) => message.conversationId === id).map((message) => message.seq);
        assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `seq order within ${id}`);
      }
      // Paging from each page's last message gives the same sequence.
      const paged = await readFeedInPages(store, start, 4);
      assert.deepEqual(paged.map((message) => message.id), all.map((message) => message.id));
      const after = positionAfter(paged[paged.length - 1]!);
      const later = await messaging.send('c', { conversationId: 'g', clientMsgId: 'later', text: 'later' });
      assert.deepEqual((await store.messageFeed(after, 10)).map((message) => message.id), [later.message.id], 'a later commit shows up after the end');
    });

    test('the message feed within one commit: conversations by id compared bytewise, then seq; every field as listMessages reads it', async (t) => {
      const { store } = await setup(t, ['a', 'b']);
      // Made in an order that is neither bytewise nor alphabetical: 'B' < 'a' < 'z' < 'é' bytewise.
      const ids = ['z', 'B', 'é', 'a'];
      await store.write(async (tx) => {
        for (const id of ids) {
          const row: ConversationRow = { id, kind: 'group', name: id, subject: '', lastSeq: 0, memberCount: 2, createdAt: 1, updatedAt: 1 };
          await tx.insertConversation(row);
        }
      });
      const start = { version: await store.syncVersion(), conversationId: '', seq: 0 };
      assert.deepEqual(await store.messageFeed(start, 10), [], 'a commit without messages adds nothing');
      const content: MessageContent = { kind: { $case: 'location', value: { latitude: 1.5, longitude: 2.5, name: 'Here', address: '' } } };
      const base = { senderId: 'a', type: 'user' as const, createdAt: 1_700_000_000_000 };
      await store.write(async (tx) => {
        // Inserted out of order on purpose.
        await tx.insertMessage({ ...base, conversationId: 'z', seq: 1, clientMsgId: 'z1', text: 'plain' });
        await tx.insertMessage({ ...base, conversationId: 'é', seq: 1, clientMsgId: 'é1', text: 'accent' });
        await tx.insertMessage({ ...base, conversationId: 'a', seq: 2, clientMsgId: 'a2', text: '📍 Here', content });
        await tx.insertMessage({ ...base, conversationId: 'B', seq: 1, clientMsgId: 'B1', type: 'system', data: new Uint8Array([8, 1, 18, 0]) });
        await tx.insertMessage({ ...base, conversationId: 'z', seq: 2, clientMsgId: 'z2', senderId: 'b', data: new Uint8Array([0, 255, 7]), visibleTo: 'a' });
        await tx.insertMessage({ ...base, conversationId: 'a', seq: 1, clientMsgId: 'a1', text: 'first' });
        for (const id of ids) await tx.updateConversation(id, { lastSeq: id === 'a' || id === 'z' ? 2 : 1 });
      });
      const version = await store.syncVersion();
      const fed = await store.messageFeed(start, 100);
      assert.deepEqual(fed.map((message) => `${message.conversationId}:${message.seq}`), ['B:1', 'a:1', 'a:2', 'z:1', 'z:2', 'é:1']);
      assert.ok(fed.every((message) => message.version === version), "each carries the commit's version, as syncVersion() gave it after the commit");
      for (const { version: _version, ...message } of fed) {
        const listed = await store.listMessages({ conversationId: message.conversationId, fromSeq: message.seq, toSeq: message.seq, limit: 1 });
        assert.deepEqual([message], listed, `${message.conversationId}:${message.seq} reads as listMessages reads it`);
      }
      assert.equal(fed[0]?.type, 'system');
      assert.deepEqual([fed[4]?.data, fed[4]?.visibleTo, fed[4]?.text], [new Uint8Array([0, 255, 7]), 'a', undefined]);
      assert.deepEqual(fed[2]?.content, content);
      for (const limit of [1, 2, 4]) {
        const paged = await readFeedInPages(store, start, limit);
        assert.deepEqual(paged.map((message) => message.id), fed.map((message) => message.id), `pages of ${limit} inside one commit: no gap, no repeat`);
      }
      await assert.rejects(
        store.write(async (tx) => {
          await tx.insertMessage({ ...base, conversationId: 'B', seq: 2, clientMsgId: 'B2', text: 'undone' });
          await tx.insertMessage({ ...base, conversationId: 'z', seq: 3, clientMsgId: 'z3', text: 'undone' });
          throw new ParleyError('INVALID_ARGUMENT', 'undo');
        }),
        { name: 'INVALID_ARGUMENT' },
      );
      assert.deepEqual(await store.messageFeed(positionAfter(fed[fed.length - 1]!), 10), [], 'a unit that threw leaves nothing in the feed');
    });

    test('the message feed never shows part of a commit: read while units commit, every read is a prefix of the final feed', async (t) => {
      const { store } = await setup(t, ['a']);
      await store.write(async (tx) => {
        for (const id of ['p', 'q']) await tx.insertConversation({ id, kind: 'group', name: id, subject: '', lastSeq: 0, memberCount: 1, createdAt: 1, updatedAt: 1 });
      });
      const start = { version: await store.syncVersion(), conversationId: '', seq: 0 };
      let writing = true;
      const reads: FeedMessage[][] = [];
      const reader = (async () => {
        while (writing) {
          reads.push(await store.messageFeed(start, 1000));
          // A read may answer within microtasks: let the writers' turns in.
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      // Each unit stores three messages in two conversations (locked in one order, so units never deadlock).
      const units = Array.from({ length: 60 }, (_, n) =>
        store.write(async (tx) => {
          const p = (await tx.lockConversation('p'))!;
          const q = (await tx.lockConversation('q'))!;
          const message = { senderId: 'a', type: 'user' as const, createdAt: 1, text: `${n}` };
          await tx.insertMessage({ ...message, conversationId: 'q', seq: q.lastSeq + 1, clientMsgId: `q${n}` });
          await tx.insertMessage({ ...message, conversationId: 'p', seq: p.lastSeq + 1, clientMsgId: `p${n}a` });
          await tx.insertMessage({ ...message, conversationId: 'p', seq: p.lastSeq + 2, clientMsgId: `p${n}b` });
          await tx.updateConversation('p', { lastSeq: p.lastSeq + 2 });
          await tx.updateConversation('q', { lastSeq: q.lastSeq + 1 });
        }),
      );
      await Promise.all(units);
      writing = false;
      await reader;
      const final = await store.messageFeed(start, 1000);
      assert.equal(final.length, 180);
      const ids = final.map((message) => message.id);
      for (const read of reads) {
        assert.deepEqual(read.map((message) => message.id), ids.slice(0, read.length), 'no later commit seen before an earlier one');
        const last = read[read.length - 1];
        if (last === undefined) continue;
        // The last commit in the read is whole: the final feed has nothing more of it.
        assert.notEqual(final[read.length]?.version, last.version, `commit ${last.version} read whole`);
      }
    });

    test('feed cursors: made at the start, held by one holder at a time until its lease lapses, moved only by the holder; durable', async (t) => {
      const { store, reopen } = await setup(t);
      const start = { version: 7, conversationId: '', seq: 0 };
      assert.deepEqual(await store.claimFeedCursor('hook', 'n1', 1000, 500, start), { position: start });
      assert.equal(await store.claimFeedCursor('hook', 'n2', 1200, 500, start), undefined, 'n1 holds it until 1500');
      assert.deepEqual(await store.claimFeedCursor('hook', 'n1', 1400, 500, start), { position: start }, 'the holder renews');
      assert.equal(await store.claimFeedCursor('hook', 'n2', 1900, 500, { version: 1, conversationId: '', seq: 0 }), undefined, 'held up to 1900 itself');
      const moved = { version: 9, conversationId: 'g', seq: 3 };
      assert.equal(await store.saveFeedCursor('hook', 'n1', moved), true);
      assert.equal(await store.saveFeedCursor('hook', 'n2', { version: 99, conversationId: '', seq: 0 }), false, 'not the holder');
      assert.deepEqual(await store.claimFeedCursor('hook', 'n2', 2000, 500, start), { position: moved }, 'lapsed at 1900: n2 takes it where n1 left it');
      assert.equal(await store.saveFeedCursor('hook', 'n1', start), false, 'n1 lost it');
      const racing = await Promise.all(['n3', 'n4', 'n5'].map((holder) => store.claimFeedCursor('other', holder, 5000, 500, start)));
      assert.equal(racing.filter((claim) => claim !== undefined).length, 1, 'of claims at once, exactly one wins');
      const takeovers = await Promise.all(['n6', 'n7', 'n8'].map((holder) => store.claimFeedCursor('other', holder, 9000, 500, moved)));
      assert.deepEqual(takeovers.filter((claim) => claim !== undefined), [{ position: start }], 'of takeovers at once after the lease lapsed, exactly one wins');
      const { store: reopened } = await reopen();
      assert.deepEqual(await reopened.claimFeedCursor('hook', 'n2', 2100, 500, start), { position: moved }, 'kept across a reopen');
    });

    test('Web Push subscriptions: listed per user oldest first; an endpoint belongs to the last user to register it; removed by its holder or by endpoint alone; durable', async (t) => {
      const { store, database, reopen } = await setup(t, ['a', 'b']);
      const subscription = (browser: string, userId: string, createdAt: number, keys = `${browser}-${userId}`): WebPushSubscriptionRow => ({
        endpoint: `https://push.example.net/send/${browser}`,
        userId,
        p256dh: `BP256-${keys}`,
        auth: `auth-${keys}`,
        createdAt,
      });
      const phone = subscription('phone', 'a', 300);
      const laptop = subscription('laptop', 'a', 100);
      const tablet = subscription('tablet', 'a', 300);
      for (const row of [phone, laptop, tablet]) await store.putWebPushSubscription(row);
      assert.deepEqual(await store.webPushSubscriptionsOf('a'), [laptop, phone, tablet], 'by createdAt, then endpoint');
      assert.deepEqual(await store.webPushSubscriptionsOf('b'), []);
      const second = await database.open();
      const seen = await second.webPushSubscriptionsOf('a');
      await second.close();
      assert.equal(seen.length, 3, 'another connection sees them once stored');

      const tabletOfB = subscription('tablet', 'b', 500);
      await store.putWebPushSubscription(tabletOfB);
      assert.deepEqual(await store.webPushSubscriptionsOf('a'), [laptop, phone], 'the endpoint left its old user');
      assert.deepEqual(await store.webPushSubscriptionsOf('b'), [tabletOfB], 'with the new user\'s keys and time');
      const renewed = subscription('laptop', 'a', 400, 'new keys');
      await store.putWebPushSubscription(renewed);
      assert.deepEqual(await store.webPushSubscriptionsOf('a'), [phone, renewed], 'registering again replaces the keys and the time');

      assert.equal(await store.deleteWebPushSubscription(tabletOfB.endpoint, 'a'), false, 'not the holder');
      assert.deepEqual(await store.webPushSubscriptionsOf('b'), [tabletOfB]);
      assert.equal(await store.deleteWebPushSubscription(tabletOfB.endpoint, 'b'), true);
      assert.deepEqual(await store.webPushSubscriptionsOf('b'), []);
      assert.equal(await store.deleteWebPushSubscription(phone.endpoint), true, 'by endpoint alone, whoever holds it');
      assert.equal(await store.deleteWebPushSubscription(phone.endpoint), false, 'already gone');
      assert.equal(await store.deleteWebPushSubscription('https://push.example.net/send/never', 'a'), false);
      const desktop = subscription('desktop', 'b', 600);
      await store.putWebPushSubscription(desktop);

      const { store: reopened } = await reopen();
      assert.deepEqual(await reopened.webPushSubscriptionsOf('a'), [renewed], 'kept across a reopen');
      assert.deepEqual(await reopened.webPushSubscriptionsOf('b'), [desktop]);
    });

    test('push preview: a user\'s own setting, overwritten, removed with undefined; durable', async (t) => {
      const { store, reopen } = await setup(t, ['a', 'b', 'c']);
      assert.equal(await store.pushPreviewOf('a'), undefined, 'none until chosen');
      await store.setPushPreview('a', 'hidden');
      await store.setPushPreview('b', 'sender');
      await store.setPushPreview('c', 'sender');
      assert.deepEqual([await store.pushPreviewOf('a'), await store.pushPreviewOf('b')], ['hidden', 'sender']);
      await store.setPushPreview('a', 'full');
      assert.equal(await store.pushPreviewOf('a'), 'full');
      await store.setPushPreview('b', undefined);
      assert.equal(await store.pushPreviewOf('b'), undefined);
      await store.setPushPreview('b', undefined);
      assert.equal(await store.pushPreviewOf('c'), 'sender', 'only the user\'s own setting goes');

      const { store: reopened } = await reopen();
      assert.deepEqual(
        [await reopened.pushPreviewOf('a'), await reopened.pushPreviewOf('b'), await reopened.pushPreviewOf('c')],
        ['full', undefined, 'sender'],
        'kept across a reopen',
      );
    });

    test('conversation attributes: written with the conversation, read back as written, also after a reopen', async (t) => {
      const { store, reopen, conversations, messaging } = await setup(t, ['a', 'b']);
      const ab = await conversations.openDirect('a', 'b', 'bike');
      assert.deepEqual((await store.getConversation(ab.id))?.attributes ?? {}, {});
      const before = await messaging.sync('b', 0);
      await conversations.setAttributes(ab.id, { item_id: '42', title: 'Blue bike — 120 €' });
      assert.deepEqual(await conversations.setAttributes(ab.id, { item_id: null, state: 'sold' }), { title: 'Blue bike — 120 €', state: 'sold' });
      const changed = await messaging.sync('b', before.version);
      assert.deepEqual(changed.conversations.map((view) => [view.id, view.attributes]), [[ab.id, { title: 'Blue bike — 120 €', state: 'sold' }]], 'a sync carries the change');
      const { store: reopened } = await reopen();
      assert.deepEqual((await reopened.getConversation(ab.id))?.attributes, { title: 'Blue bike — 120 €', state: 'sold' });
      await assert.rejects(conversations.setAttributes(ab.id, { 'Bad Key': 'x' }), (error: unknown) => error instanceof ParleyError && error.codeName === 'INVALID_ARGUMENT');
      await assert.rejects(conversations.setAttributes(ab.id, { big: 'x'.repeat(1025) }), (error: unknown) => error instanceof ParleyError && error.codeName === 'TOO_LARGE');
    });

    test('member settings: absent until set; every member read returns them; 0 and \'\' clear them; each change reaches the member\'s sync and no one else\'s', async (t) => {
      const { store, conversations } = await setup(t, ['a', 'b', 'c']);
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['b', 'c'] });
      const fresh = await store.getMember('g', 'b');
      assert.deepEqual(settingsOf(fresh), {});
      const readsOfB = async () => [
        await store.getMember('g', 'b'),
        (await store.activeMembers('g')).find((member) => member.userId === 'b'),
        (await store.membershipsOf('b')).find((membership) => membership.conversation.id === 'g')?.member,
      ];
      const changedFor = async (userId: string, since: number) => (await store.membershipsOf(userId, { changedSince: since })).map((membership) => membership.conversation.id);

      const beforeSet = await store.syncVersion();
      // The far-future value that stands for "until unmuted".
      const settings = { mutedUntil: 253_402_300_800_000, pinnedAt: 1_700_000_000_000, draft: 'half a thought' };
      await store.write((tx) => tx.updateMember('g', 'b', settings));
      for (const member of await readsOfB()) assert.deepEqual(settingsOf(member), settings);
      assert.deepEqual(await changedFor('b', beforeSet), ['g'], 'the member row took the commit\'s version');
      assert.deepEqual(await changedFor('c', beforeSet), [], 'another member\'s sync has nothing new');
      for (const userId of ['a', 'c']) assert.deepEqual(settingsOf(await store.getMember('g', userId)), {}, `${userId}'s row is untouched`);

      const beforeDraft = await store.syncVersion();
      await store.write((tx) => tx.updateMember('g', 'b', { draft: 'a whole thought' }));
      assert.deepEqual(settingsOf(await store.getMember('g', 'b')), { ...settings, draft: 'a whole thought' }, 'what the patch leaves out stays');
      assert.deepEqual(await changedFor('b', beforeDraft), ['g']);
      await conversations.setRole('a', 'g', 'b', 'admin');
      assert.deepEqual(settingsOf(await store.getMember('g', 'b')), { ...settings, draft: 'a whole thought' }, 'a role change keeps them');

      const beforeUnmute = await store.syncVersion();
      await store.write((tx) => tx.updateMember('g', 'b', { mutedUntil: 0 }));
      assert.deepEqual(settingsOf(await store.getMember('g', 'b')), { pinnedAt: settings.pinnedAt, draft: 'a whole thought' });
      assert.deepEqual(await changedFor('b', beforeUnmute), ['g']);
      const beforeClear = await store.syncVersion();
      await store.write((tx) => tx.updateMember('g', 'b', { pinnedAt: 0, draft: '' }));
      for (const member of await readsOfB()) assert.deepEqual(settingsOf(member), {});
      assert.deepEqual(await store.getMember('g', 'b'), { ...fresh, role: 'admin' }, 'cleared, the row reads as before it had settings');
      assert.deepEqual(await changedFor('b', beforeClear), ['g'], 'clearing reaches the sync too');
    });

    test('member settings: kept by a rejoin and across a reopen; a long draft with emoji round-trips; countPinned counts the user\'s active pinned memberships', async (t) => {
      const { store, conversations, reopen } = await setup(t, ['a', 'b', 'c']);
      for (const id of ['g1', 'g2', 'g3']) await conversations.createGroup('a', { id, name: id, memberIds: ['b', 'c'] });
      const ab = await conversations.openDirect('a', 'b', '');
      const draft = `${'👋🏽 ça va?\n'.repeat(333)}fin.`;
      assert.equal(draft.length, 4000);
      await store.write(async (tx) => {
        await tx.updateMember('g1', 'b', { pinnedAt: 10 });
        await tx.updateMember('g2', 'b', { pinnedAt: 20, mutedUntil: 2_000_000_000_000, draft });
        await tx.updateMember(ab.id, 'b', { pinnedAt: 30 });
        await tx.updateMember('g3', 'b', { mutedUntil: 2_000_000_000_000 });
        await tx.updateMember('g1', 'c', { pinnedAt: 40 });
      });
      assert.deepEqual([await store.countPinned('b'), await store.countPinned('c'), await store.countPinned('a')], [3, 1, 0]);
      assert.equal(await store.countPinned('nobody'), 0);

      await conversations.updateMembers('a', 'g2', [], ['b']);
      assert.equal(await store.countPinned('b'), 2, 'a past membership does not count');
      assert.deepEqual(settingsOf(await store.getMember('g2', 'b')), { pinnedAt: 20, mutedUntil: 2_000_000_000_000, draft }, 'a past member keeps its settings');
      await conversations.updateMembers('a', 'g2', ['b'], []);
      const rejoined = await store.getMember('g2', 'b');
      assert.equal(rejoined?.leftSeq, undefined);
      assert.deepEqual(settingsOf(rejoined), { pinnedAt: 20, mutedUntil: 2_000_000_000_000, draft }, 'putMember over a past membership keeps them');
      assert.equal(await store.countPinned('b'), 3);
      await store.write((tx) => tx.updateMember(ab.id, 'b', { pinnedAt: 0 }));
      assert.equal(await store.countPinned('b'), 2, 'unpinned');

      const check = async (reader: Store) => {
        const settings = Object.fromEntries((await reader.membershipsOf('b')).map(({ conversation, member }) => [conversation.id, settingsOf(member)]));
        assert.deepEqual(settings, {
          g1: { pinnedAt: 10 },
          g2: { pinnedAt: 20, mutedUntil: 2_000_000_000_000, draft },
          g3: { mutedUntil: 2_000_000_000_000 },
          [ab.id]: {},
        });
        assert.equal((await reader.getMember('g2', 'b'))?.draft, draft);
        assert.deepEqual([await reader.countPinned('b'), await reader.countPinned('c')], [2, 1]);
      };
      await check(store);
      await check((await reopen()).store);
    });

    test('recent messages: the newest after a seq, or stored after a version, ascending, bounded by the limit', async (t) => {
      const { store, messaging, conversations } = await setup(t, ['a', 'b']);
      const ab = await conversations.openDirect('a', 'b', '');
      for (const id of ['1', '2', '3']) await messaging.send('a', { conversationId: ab.id, clientMsgId: id, text: id });
      const version = await store.syncVersion();
      for (const id of ['4', '5', '6', '7']) await messaging.send('b', { conversationId: ab.id, clientMsgId: id, text: id });
      const recent = (query: { afterSeq?: number; toSeq?: number; sinceVersion?: number; limit: number }) =>
        store.recentMessages({ conversationId: ab.id, afterSeq: 0, toSeq: 7, ...query }).then((rows) => rows.map((row) => row.text).join(''));
      assert.equal(await recent({ limit: 10 }), '1234567');
      assert.equal(await recent({ sinceVersion: version, limit: 10 }), '4567', 'stored after the version');
      assert.equal(await recent({ sinceVersion: version, limit: 2 }), '67', 'the newest, ascending');
      assert.equal(await recent({ afterSeq: 5, limit: 10 }), '67');
      assert.equal(await recent({ afterSeq: 1, toSeq: 4, limit: 10 }), '234');
      assert.equal(await recent({ sinceVersion: await store.syncVersion(), limit: 10 }), '', 'nothing stored after the latest version');
      assert.equal(await recent({ afterSeq: 7, limit: 10 }), '');
      assert.deepEqual(await store.recentMessages({ conversationId: 'nope', afterSeq: 0, toSeq: 5, limit: 5 }), []);
    });

    test('sync with recent messages: runs from the position or the version, placeholders kept, the same counts and last message as without', async (t) => {
      const { messaging, conversations } = await setup(t, ['a', 'b', 'c']);
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['b', 'c'] });
      const ab = await conversations.openDirect('a', 'b', '');
      const before = await messaging.sync('b', 0);
      await messaging.send('a', { conversationId: 'g', clientMsgId: '1', text: 'to all' });
      await messaging.send('a', { conversationId: 'g', clientMsgId: '2', text: 'only c', visibleTo: 'c' });
      await messaging.send('c', { conversationId: 'g', clientMsgId: '3', text: 'from c' });
      for (let n = 0; n < 5; n++) await messaging.send('a', { conversationId: ab.id, clientMsgId: `d${n}`, text: `d${n}` });
      const bare = await messaging.sync('b', before.version);
      assert.deepEqual(bare.recent, [], 'no recent messages unless asked');
      const withRecent = await messaging.sync('b', before.version, { recentLimit: 3 });
      assert.deepEqual(withRecent.conversations, bare.conversations, 'counts and last messages agree with the queries');
      assert.equal(withRecent.totalUnread, bare.totalUnread);
      const runs = Object.fromEntries(withRecent.recent.map((run) => [run.conversationId, run]));
      // seq 1 group_created, 2 "to all", 3 "only c", 4 "from c": stored after b's version are 2..4.
      assert.deepEqual(
        runs.g?.messages.map((message) => (message.hidden ? `${message.seq}:hidden` : `${message.seq}:${message.text}`)),
        ['2:to all', '3:hidden', '4:from c'],
      );
      assert.deepEqual([runs.g?.coveredFrom, runs.g?.coveredTo], [2, 4]);
      assert.deepEqual(
        runs[ab.id]?.messages.map((message) => message.text),
        ['d2', 'd3', 'd4'],
        'the newest three; the device pulls the rest',
      );
      const fromPosition = await messaging.sync('b', before.version, { recentLimit: 10, positions: new Map([[ab.id, 3]]) });
      const direct = fromPosition.recent.find((run) => run.conversationId === ab.id);
      assert.deepEqual(direct?.messages.map((message) => message.text), ['d3', 'd4'], 'after the position the device sent');
      const upToDate = await messaging.sync('b', before.version, { recentLimit: 10, positions: new Map([[ab.id, 5]]) });
      assert.deepEqual(upToDate.recent.map((run) => run.conversationId), ['g'], 'nothing for a conversation the device holds');
      const capped = await messaging.sync('b', 0, { recentLimit: 1000 });
      assert.ok(capped.recent.every((run) => run.messages.length <= DEFAULT_SERVER_LIMITS.maxSyncRecent));
      await assert.rejects(
        messaging.sync('b', 0, { positions: new Map(Array.from({ length: DEFAULT_SERVER_LIMITS.maxSyncPositions + 1 }, (_, n) => [`c${n}`, 1])) }),
        (error: ParleyError) => error.codeName === 'TOO_LARGE',
      );
    });

    test('the carried-forward total unread always equals a recount, also with syncs of one user interleaving', async (t) => {
      const ids = ['a', 'b', 'c', 'd'];
      const { store, messaging, conversations } = await setup(t, ids);
      await conversations.createGroup('a', { id: 'g1', name: 'G1', memberIds: ['b', 'c', 'd'] });
      await conversations.createGroup('b', { id: 'g2', name: 'G2', memberIds: ['a', 'c'] });
      const direct = await conversations.openDirect('c', 'd', '');
      const rooms = ['g1', 'g2', direct.id];
      let seed = 7;
      const next = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      for (let step = 0; step < 120; step++) {
        const user = ids[next(ids.length)] as string;
        const room = rooms[next(rooms.length)] as string;
        const action = next(10);
        try {
          if (action < 6) await messaging.send(user, { conversationId: room, clientMsgId: `s${step}`, text: `${step}`, visibleTo: action === 5 ? 'd' : undefined });
          else if (action < 8) await messaging.markRead(user, room, next(3) === 0 ? 0 : next(20));
          else if (action === 8 && room === 'g1') await conversations.updateMembers('a', 'g1', [], ['d']);
          else if (room === 'g1') await conversations.updateMembers('a', 'g1', ['d'], []);
        } catch (error) {
          assert.ok(error instanceof ParleyError, String(error)); // not a member, already removed...
        }
        const who = ids[next(ids.length)] as string;
        const [viaSync, viaOther] = await Promise.all([messaging.sync(who, next(2) === 0 ? 0 : step), messaging.totalUnread(who)]);
        const recount = await totalUnread(store, who);
        assert.equal(viaSync.totalUnread, recount, `step ${step}: ${who}'s total from sync`);
        assert.equal(viaOther, recount, `step ${step}: ${who}'s total`);
      }
    });

    test('typed content and media rows read back as written, also after a reopen; references, usage and dedupe lookups', async (t) => {
      const { store, messaging, conversations, reopen } = await setup(t, ['a', 'b']);
      const ab = await conversations.openDirect('a', 'b', '');
      const media: MediaRow = {
        id: 'f'.repeat(32),
        ownerId: 'a',
        kind: 'image',
        blobKey: 'e'.repeat(64),
        mimeType: 'image/png',
        size: 1234,
        fileName: 'ü photo.png',
        width: 40,
        height: 30,
        durationMs: 0,
        thumbhash: new Uint8Array([1, 2, 3, 250]),
        animated: true,
        variants: ['medium', 'poster'],
        createdAt: 1_700_000_000_000,
      };
      await store.write((tx) => tx.insertMedia(media));
      await assert.rejects(store.write((tx) => tx.insertMedia(media)), (error: unknown) => error instanceof ParleyError && error.codeName === 'CONFLICT');
      await store.write((tx) => tx.insertMedia({ ...media, id: 'd'.repeat(32), kind: 'file', size: 66, thumbhash: undefined, variants: [] }));
      const content: MessageContent = {
        kind: { $case: 'location', value: { latitude: 52.52, longitude: -13.405, name: 'Platz', address: '' } },
      };
      const sent = await messaging.send('a', { conversationId: ab.id, clientMsgId: 'c1', text: '📍 Platz', content });
      await store.write((tx) => tx.insertMediaReference(media.id, { conversationId: ab.id, seq: sent.message.seq }));
      await store.write((tx) => tx.insertMediaReference(media.id, { conversationId: ab.id, seq: sent.message.seq }));
      const check = async (reader: Store) => {
        assert.deepEqual(await reader.getMedia(media.id), media);
        assert.equal((await reader.getMedia('d'.repeat(32)))?.thumbhash, undefined);
        assert.equal((await reader.findOwnMedia('a', media.blobKey, 'image'))?.id, media.id);
        assert.equal((await reader.findOwnMedia('a', media.blobKey, 'video')), undefined);
        assert.equal((await reader.findOwnMedia('b', media.blobKey, 'image')), undefined);
        assert.equal(await reader.mediaUsage('a'), 1234 + 66);
        assert.equal(await reader.mediaUsage('b'), 0);
        assert.deepEqual(await reader.mediaReferences(media.id, 10), [{ conversationId: ab.id, seq: sent.message.seq }]);
        const [stored] = await reader.listMessages({ conversationId: ab.id, fromSeq: sent.message.seq, toSeq: sent.message.seq, limit: 1 });
        assert.deepEqual(stored?.content, content);
        assert.equal(stored?.text, '📍 Platz');
      };
      await check(store);
      await check((await reopen()).store);
    });

    test('live rooms: no member rows and no list entries; host, admins and mutes kept apart; reliable messages dense; closing sticks across a reopen', async (t) => {
      const { store, messaging, rooms, reopen } = await setup(t, ['host', 'mod', 'fan']);
      const room = await rooms.create('host', { id: 'live', name: 'Live' });
      assert.deepEqual(room, { id: 'live', name: 'Live', hostId: 'host', lastSeq: 0, closed: false, createdAt: room.createdAt });
      await rooms.setAdmin({ userId: 'host' }, 'live', 'mod', true);
      await rooms.mute({ userId: 'mod' }, 'live', 'fan', 60);
      await Promise.all([1, 2, 3].map((n) => messaging.send('host', { conversationId: 'live', clientMsgId: `h${n}`, text: `card ${n}` })));
      await messaging.send('mod', { conversationId: 'live', clientMsgId: 'm1', text: 'from the admin' });
      await messaging.send('fan', { conversationId: 'live', clientMsgId: 'gift', text: 'a rose' }, undefined, 'operator');
      await assert.rejects(messaging.send('fan', { conversationId: 'live', clientMsgId: 'f1', text: 'me too' }), (error: unknown) => error instanceof ParleyError && error.codeName === 'FORBIDDEN');
      await rooms.mute({ userId: 'host' }, 'live', 'fan', 0);
      await rooms.close({ userId: 'mod' }, 'live');
      const check = async (reader: Store) => {
        const conversation = await reader.getConversation('live');
        assert.equal(conversation?.kind, 'room');
        assert.equal(conversation?.lastSeq, 6);
        assert.ok((conversation?.closedAt ?? 0) > 0);
        assert.equal(await reader.countActiveMembers('live'), 0);
        assert.deepEqual((await reader.membershipsOf('host')).length, 0);
        // The unmuted viewer's row is gone; host and admin stay.
        assert.deepEqual(
          (await reader.roomPeople('live')).map((person) => [person.userId, person.role, person.mutedUntil]).sort(),
          [['host', 'owner', 0], ['mod', 'admin', 0]],
        );
        assert.equal(await reader.roomPerson('live', 'fan'), undefined);
        const messages = await reader.listMessages({ conversationId: 'live', fromSeq: 1, toSeq: 10, limit: 10 });
        assert.deepEqual(messages.map((message) => message.seq), [1, 2, 3, 4, 5, 6]);
        assert.equal(messages[4]?.senderId, 'fan');
        assert.equal(messages[5]?.type, 'system');
      };
      await check(store);
      const again = await reopen();
      await check(again.store);
      await assert.rejects(again.messaging.send('host', { conversationId: 'live', clientMsgId: 'late', text: 'encore' }), (error: unknown) => error instanceof ParleyError && error.codeName === 'ROOM_CLOSED');
      assert.equal((await again.messaging.sync('host', 0)).conversations.length, 0);
    });

    test('development accounts: sign-up stores the user and the password together; sign-in checks it', async (t) => {
      const { store, accounts, users, reopen } = await setup(t, ['taken']);
      await accounts.signUp('dev', 'Dev', 'correct horse');
      await assert.rejects(accounts.signUp('taken', 'X', 'whatever password'), { name: 'CONFLICT' });
      assert.equal((await accounts.signIn('dev', 'correct horse')).name, 'Dev');
      await assert.rejects(accounts.signIn('dev', 'wrong password'), { name: 'UNAUTHENTICATED' });
      await assert.rejects(accounts.signIn('taken', 'whatever password'), { name: 'UNAUTHENTICATED' });
      await users.revokeTokens('dev');
      assert.ok(((await store.getUser('dev'))?.tokensValidAfter ?? 0) > 0);
      assert.equal((await (await reopen()).accounts.signIn('dev', 'correct horse')).id, 'dev');
    });

    test('development accounts: a user made without a password is told so, and gets one set (or replaced) later', async (t) => {
      const { accounts, reopen } = await setup(t, ['plain']);
      await assert.rejects(accounts.signIn('plain', 'any password'), { name: 'UNAUTHENTICATED', message: /plain has no password yet\. Ask an administrator to run: parley user password plain/ });
      await assert.rejects(accounts.signIn('nobody', 'any password'), { name: 'UNAUTHENTICATED', message: 'Wrong user id or password' });
      await accounts.setPassword('plain', 'first password');
      assert.equal((await accounts.signIn('plain', 'first password')).id, 'plain');
      await accounts.setPassword('plain', 'second password');
      await assert.rejects(accounts.signIn('plain', 'first password'), { name: 'UNAUTHENTICATED' });
      await assert.rejects(accounts.setPassword('nobody', 'some password'), { name: 'NOT_FOUND' });
      await assert.rejects(accounts.setPassword('plain', 'short'), { name: 'INVALID_ARGUMENT' });
      assert.equal((await (await reopen()).accounts.signIn('plain', 'second password')).id, 'plain');
    });

    test('message search: every word must match, ignoring case and accents; the last word as a prefix; newest first', async (t) => {
      const { messaging, conversations, search } = await setup(t, ['a', 'b']);
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['b'] });
      const texts = [
        'Hello World',
        'Café crème, s’il vous plaît',
        'hello there',
        'HELLO world again',
        'help wanted',
        '你好世界',
        'write to bob@example.com',
        'Naïve RÉSUMÉ',
        'İstanbul and Øresund',
      ];
      for (const [n, text] of texts.entries()) await messaging.send('a', { conversationId: 'g', clientMsgId: `t${n}`, text });
      const found = async (text: string) => (await search.search({ userId: 'b', text })).hits.map((hit) => hit.message.text);
      assert.deepEqual(await found('hel'), ['help wanted', 'HELLO world again', 'hello there', 'Hello World']);
      assert.deepEqual(await found('hello world'), ['HELLO world again', 'Hello World']);
      assert.deepEqual(await found('WORLD hel'), ['HELLO world again', 'Hello World']);
      assert.deepEqual(await found('world hello again'), ['HELLO world again']);
      assert.deepEqual(await found('orld'), [], 'words match from their start only');
      assert.deepEqual(await found('hello nowhere'), [], 'every word must match');
      assert.deepEqual(await found('cafe CREME'), ['Café crème, s’il vous plaît']);
      assert.deepEqual(await found('résumé naive'), ['Naïve RÉSUMÉ']);
      assert.deepEqual(await found('istanbul'), ['İstanbul and Øresund']);
      assert.deepEqual(await found('øresund'), ['İstanbul and Øresund']);
      assert.deepEqual(await found('oresund'), [], 'a stroke is not an accent, in either store');
      assert.deepEqual(await found('example'), ['write to bob@example.com']);
      assert.deepEqual(await found('bob@example'), ['write to bob@example.com']);
      // Chinese is indexed a character at a time: one or two characters find it, in order only.
      assert.deepEqual(await found('世界'), ['你好世界']);
      assert.deepEqual(await found('世'), ['你好世界']);
      assert.deepEqual(await found('好世'), ['你好世界']);
      assert.deepEqual(await found('界世'), []);
    });

    test('message search: quotes, operators and stars in a query are plain text, never query syntax', async (t) => {
      const { messaging, conversations, search } = await setup(t, ['a', 'b']);
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['b'] });
      await messaging.send('a', { conversationId: 'g', clientMsgId: '1', text: 'hello world' });
      await messaging.send('a', { conversationId: 'g', clientMsgId: '2', text: 'it’s "quoted" and (bracketed)' });
      const found = async (text: string) => (await search.search({ userId: 'b', text })).hits.map((hit) => hit.message.text);
      for (const query of ['"hello', 'hello"', 'hello*', '*hello', '-hello', '^hello', 'world:hello', 'hello:*', '!hello', '(hello', "hello'", '\\hello', 'hello &', '| hello', 'NEAR(hello world)', 'hello AND']) {
        const expected = query.includes('AND') || query.includes('NEAR') ? [] : ['hello world'];
        assert.deepEqual(await found(query), expected, query);
      }
      assert.deepEqual(await found('hello OR nothing'), [], 'OR is a word like any other');
      assert.deepEqual(await found('"quoted"'), ['it’s "quoted" and (bracketed)']);
      assert.deepEqual(await found('(bracketed'), ['it’s "quoted" and (bracketed)']);
      for (const query of ['"', '*', '\\', "'", '&|!():*', '🙂']) assert.deepEqual(await found(query), [], `${query}: no words, nothing found`);
    });

    test('message search: members find what they may read, only that; system events, messages to others and rooms never', async (t) => {
      const { messaging, conversations, rooms, search, store } = await setup(t, ['o', 'early', 'late', 'gone', 'back', 'stranger']);
      await conversations.createGroup('o', { id: 'g', name: 'G', memberIds: ['early', 'gone', 'back'] });
      await messaging.send('o', { conversationId: 'g', clientMsgId: '1', text: 'apple one' });
      await conversations.updateMembers('o', 'g', [], ['back']);
      await messaging.send('o', { conversationId: 'g', clientMsgId: '2', text: 'apple two' });
      await conversations.updateMembers('o', 'g', ['late', 'back'], []);
      await messaging.send('o', { conversationId: 'g', clientMsgId: '3', text: 'apple three' });
      await conversations.updateMembers('o', 'g', [], ['gone']);
      await messaging.send('o', { conversationId: 'g', clientMsgId: '4', text: 'apple four' });
      await messaging.send('o', { conversationId: 'g', clientMsgId: '5', text: 'apple secret', visibleTo: 'late' });
      await conversations.rename('o', 'g', 'apple group');
      const found = async (userId: string, text = 'apple') => (await search.search({ userId, text })).hits.map((hit) => hit.message.text);
      assert.deepEqual(await found('early'), ['apple four', 'apple three', 'apple two', 'apple one']);
      assert.deepEqual(await found('late'), ['apple secret', 'apple four', 'apple three'], 'a later member finds nothing from before it joined');
      assert.deepEqual(await found('gone'), ['apple three', 'apple two', 'apple one'], 'a past member finds up to its leaving');
      assert.deepEqual(await found('back'), ['apple four', 'apple three', 'apple one'], 'nothing from while it was out');
      assert.deepEqual(await found('stranger'), []);
      assert.deepEqual(await found('o', 'apple secret'), [], 'addressed to another member');
      assert.deepEqual(await found('early', 'group'), [], 'system events (the rename to "apple group") are not found');
      await assert.rejects(search.search({ userId: 'stranger', text: 'apple', conversationId: 'g' }), { name: 'FORBIDDEN' });
      await assert.rejects(search.search({ userId: 'early', text: 'apple', conversationId: 'nope' }), { name: 'NOT_FOUND' });
      await conversations.createGroup('o', { id: 'h', name: 'H', memberIds: ['early'] });
      await messaging.send('early', { conversationId: 'h', clientMsgId: 'h1', text: 'apple elsewhere' });
      assert.deepEqual((await search.search({ userId: 'early', text: 'apple', conversationId: 'h' })).hits.map((hit) => hit.message.conversationId), ['h']);
      // A room's messages are never indexed: even a scope naming the room finds nothing.
      await rooms.create('o', { id: 'live', name: 'Live' });
      await messaging.send('o', { conversationId: 'live', clientMsgId: 'r1', text: 'apple live' });
      assert.deepEqual(await store.searchMessages({ phrases: [['apple']], ranges: [{ conversationId: 'live', from: 1, through: 10 }], limit: 10 }), []);
      await assert.rejects(search.search({ userId: 'o', text: 'apple', conversationId: 'live' }), { name: 'INVALID_ARGUMENT' });
    });

    test('message search: pages newest first without gaps or repeats; the store pages by message id inside the given ranges', async (t) => {
      const { messaging, conversations, search, store } = await setup(t, ['a', 'b', 'c']);
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['b'] });
      const ab = await conversations.openDirect('a', 'b', '');
      for (let n = 0; n < 23; n++) {
        await messaging.send('a', { conversationId: n % 2 === 0 ? 'g' : ab.id, clientMsgId: `p${n}`, text: `page item ${n}` });
        if (n % 5 === 0) await messaging.send('a', { conversationId: 'g', clientMsgId: `x${n}`, text: `other ${n}` });
      }
      const all: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await search.search({ userId: 'b', text: 'page ITEM', limit: 10, cursor });
        assert.ok(page.hits.length <= 10);
        all.push(...page.hits.map((hit) => hit.message.text ?? ''));
        cursor = page.nextCursor ?? undefined;
        pages += 1;
      } while (cursor !== undefined);
      assert.equal(pages, 3);
      assert.deepEqual(all, Array.from({ length: 23 }, (_, n) => `page item ${22 - n}`));
      await assert.rejects(search.search({ userId: 'b', text: 'page', cursor: 'garbage' }), { name: 'INVALID_ARGUMENT' });
      await assert.rejects(search.search({ userId: 'b', text: '   ' }), { name: 'INVALID_ARGUMENT' });
      await assert.rejects(search.search({ userId: 'b', text: 'x'.repeat(129) }), { name: 'INVALID_ARGUMENT' });
      await assert.rejects(search.search({ userId: 'b', text: 'page', limit: 51 }), { name: 'INVALID_ARGUMENT' });
      assert.equal((await search.search({ userId: 'b', text: ` ${'x'.repeat(128)} ` })).hits.length, 0);

      // The primitive: ranges bound each conversation, ids come newest first, beforeId continues.
      const rows = await store.searchMessages({ phrases: [['page'], ['it']], ranges: [{ conversationId: 'g', from: 3, through: 12 }], type: 'user', visibleTo: 'b', limit: 3 });
      assert.ok(rows.every((row) => row.conversationId === 'g' && row.seq >= 3 && row.seq <= 12));
      assert.deepEqual(rows.map((row) => Number(row.id)), [...rows.map((row) => Number(row.id))].sort((x, y) => y - x));
      const next = await store.searchMessages({ phrases: [['page'], ['it']], ranges: [{ conversationId: 'g', from: 3, through: 12 }], limit: 10, beforeId: rows[2]?.id });
      assert.ok(next.every((row) => Number(row.id) < Number(rows[2]?.id)));
      assert.deepEqual(await store.searchMessages({ phrases: [['page']], ranges: [], limit: 10 }), []);
      assert.deepEqual(await store.searchMessages({ phrases: [['page']], ranges: [{ conversationId: 'unknown', from: 1, through: 9 }], limit: 10 }), []);
    });

    test('message search: typed content is found by its caption, file name, place name and address, not by its fallback label', async (t) => {
      const { messaging, conversations, search } = await setup(t, ['a', 'b']);
      const ab = await conversations.openDirect('a', 'b', '');
      const content: MessageContent = {
        kind: { $case: 'location', value: { latitude: 52.52, longitude: 13.405, name: 'Brandenburger Tor', address: 'Pariser Platz, Berlin' } },
      };
      await messaging.send('a', { conversationId: ab.id, clientMsgId: 'loc', content });
      const found = async (text: string) => (await search.search({ userId: 'b', text })).hits.map((hit) => hit.snippet);
      assert.deepEqual(await found('brandenburger'), ['Brandenburger Tor\nPariser Platz, Berlin'.replace('\n', ' ')]);
      assert.deepEqual(await found('berlin pariser'), ['Brandenburger Tor Pariser Platz, Berlin']);
      assert.deepEqual(await found('location'), [], 'the fallback label is not indexed');
    });

    test('user search: id or name contains the text, ignoring ASCII case, literally, by id, page after page', async (t) => {
      const { store, users } = await setup(t);
      for (const [id, name] of [['b_1', 'Ann 50%'], ['bx1', 'Bob'], ['carol', 'Carol ANN'], ['dave', 'Dave']] as const) await users.putUser(id, name);
      const ids = async (search: Parameters<Store['searchUsers']>[0]) => (await store.searchUsers(search)).map((user) => user.id);
      assert.deepEqual(await ids({ text: 'ann', limit: 10 }), ['b_1', 'carol']);
      assert.deepEqual(await ids({ text: 'B_', limit: 10 }), ['b_1']);
      assert.deepEqual(await ids({ text: '0%', limit: 10 }), ['b_1']);
      assert.deepEqual(await ids({ text: '', limit: 3 }), ['b_1', 'bx1', 'carol']);
      assert.deepEqual(await ids({ text: '', limit: 3, afterId: 'carol' }), ['dave']);
      assert.equal((await store.searchUsers({ text: 'dave', limit: 1 }))[0]?.name, 'Dave');
      assert.equal(await store.countUsers(), 4);
      await users.putUser('dave', 'Dave again');
      assert.equal(await store.countUsers(), 4, 'renaming a user does not count it twice');
    });

    test('errors: unknown conversation NOT_FOUND, stranger FORBIDDEN, unknown user NOT_FOUND', async (t) => {
      const { messaging, conversations } = await setup(t, ['a', 'b', 'c']);
      const ab = await conversations.openDirect('a', 'b', '');
      await assert.rejects(messaging.send('a', { conversationId: 'nope', clientMsgId: '1', text: 'x' }), { name: 'NOT_FOUND' });
      await assert.rejects(messaging.send('c', { conversationId: ab.id, clientMsgId: '1', text: 'x' }), { name: 'FORBIDDEN' });
      await assert.rejects(messaging.pull('c', ab.id, 1, 0, 10, false), { name: 'FORBIDDEN' });
      await assert.rejects(messaging.markRead('c', ab.id, 0), { name: 'FORBIDDEN' });
      await assert.rejects(conversations.openDirect('a', 'ghost', ''), { name: 'NOT_FOUND' });
      await assert.rejects(conversations.createGroup('a', { id: 'g', name: 'G', memberIds: ['ghost'] }), { name: 'NOT_FOUND' });
      await conversations.createGroup('a', { id: 'g', name: 'G', memberIds: [] });
      await assert.rejects(conversations.createGroup('a', { id: 'g', name: 'G', memberIds: [] }), { name: 'CONFLICT' });
    });
  });
}
