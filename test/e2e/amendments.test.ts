/**
 * Recall, edit and delete for me, end to end: every device learns of each
 * change in order (also one that was offline, or connects for the first
 * time), unread counts and the conversation list's last message follow,
 * and who may do what is enforced. The last test drives a random mix of
 * sends, reads, recalls, deletions and edits and checks after every step
 * that each user's unread count is exactly what a model says.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { type AmendedMessage, type Message, ParleyClient, type ParleyError, applyAmendment } from '@parley/client';
import { freshSummary } from '../support/devices.js';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';
import { seededRandom } from '../support/random.js';

async function device(t: TestContext, fixture: TestServer, userId: string): Promise<ParleyClient & { amended: AmendedMessage[] }> {
  const parley = new ParleyClient({ url: fixture.server.wsUrl, token: () => fixture.api.token(userId), reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
  t.after(() => parley.close());
  const amended: AmendedMessage[] = [];
  parley.on('amended', (change) => amended.push(change));
  await parley.connect();
  return Object.assign(parley, { amended });
}

const freshView = (t: TestContext, fixture: TestServer, userId: string, conversationId: string) => freshSummary(fixture, userId, conversationId, t);

const codeOf = (name: string) => (error: ParleyError) => error.codeName === name;

test('a recall reaches every device, drops the message from unread counts and from the list, and leaves a recalled placeholder', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const dm = await ann.direct('bob');
  const sent: Message[] = [];
  for (const text of ['one', 'two', 'three']) sent.push(await ann.send(dm, { text }));
  const [one, two, three] = sent as [Message, Message, Message];

  await ann.recall(dm, two.seq);
  // Bob's first device meets the conversation after the recall.
  let bobView = await freshView(t, fixture, 'bob', dm);
  assert.equal(bobView?.unread, 2, 'the recalled message does not count');
  assert.equal(bobView?.lastMessage?.text, 'three');

  const bob = await device(t, fixture, 'bob');
  await ann.recall(dm, three.seq);
  await eventually(() => bob.amended.some((change) => change.seq === three.seq), 5000, "bob's device hears of the recall");
  assert.deepEqual(
    bob.amended.map((change) => ({ change: change.change, seq: change.seq, actorId: change.actorId })),
    [
      { change: 'recalled', seq: two.seq, actorId: 'ann' },
      { change: 'recalled', seq: three.seq, actorId: 'ann' },
    ],
    'the recall from before it connected too (it pulled the conversation), each once, in order',
  );
  await eventually(() => bob.conversation(dm)?.unread === 1, 5000, 'unread follows on the open device');
  await eventually(() => bob.conversation(dm)?.lastMessage?.recalledAt !== undefined, 5000, 'the list shows the last message recalled');
  const history = await bob.history(dm);
  assert.deepEqual(
    history.map((message) => [message.seq, message.text, message.recalledAt !== undefined]),
    [
      [one.seq, 'one', false],
      [two.seq, undefined, true],
      [three.seq, undefined, true],
    ],
    'recalled messages keep their place, without their text; amendments are not messages',
  );
  bobView = await freshView(t, fixture, 'bob', dm);
  assert.equal(bobView?.lastMessage?.seq, three.seq, 'the last message is the recalled one, not the amendment');
  assert.equal(bobView?.lastMessage?.recalledAt !== undefined, true);
  assert.equal(bobView?.unread, 1);

  // Repeating a recall changes nothing; bob cannot recall ann's message in a direct chat.
  await ann.recall(dm, three.seq);
  await assert.rejects(bob.recall(dm, one.seq), codeOf('FORBIDDEN'));
  await assert.rejects(bob.recall(dm, 999), codeOf('NOT_FOUND'));
});

test('who may recall: the sender within the window, a group admin at any time, nobody else', async (t) => {
  const fixture = await startTestServer(t, { amendments: { recallWindowMs: 0 } });
  for (const id of ['ann', 'bob', 'cat']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const group = (await ann.createGroup({ name: 'Club', memberIds: ['bob', 'cat'] })).id;
  const fromBob = await bob.send(group, { text: 'spam' });
  const fromAnn = await ann.send(group, { text: 'rules' });
  await assert.rejects(bob.recall(group, fromBob.seq), codeOf('FORBIDDEN'), 'past the window (0 ms) for its sender');
  await assert.rejects(bob.recall(group, fromAnn.seq), codeOf('FORBIDDEN'), "a member cannot recall another's");
  await ann.recall(group, fromBob.seq);
  await eventually(() => bob.amended.some((change) => change.change === 'recalled' && change.seq === fromBob.seq), 5000, 'the owner recalled it');
});

test('an edit reaches every device with its text, keeps the history, is moderated like a send, and only for own text messages', async (t) => {
  const fixture = await startTestServer(t, { moderation: { blockedWords: ['darn'] } });
  for (const id of ['ann', 'bob']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const dm = await ann.direct('bob');
  const typo = await ann.send(dm, { text: 'see you at 8' });
  await ann.edit(dm, typo.seq, 'see you at 9');
  await eventually(() => bob.amended.length === 1, 5000, 'bob hears of the edit');
  assert.deepEqual({ change: bob.amended[0]?.change, text: bob.amended[0]?.change === 'edited' ? bob.amended[0].text : '' }, { change: 'edited', text: 'see you at 9' });
  await ann.edit(dm, typo.seq, 'see you at 9, darn traffic');
  const versions = await bob.editHistory(dm, typo.seq);
  assert.deepEqual(
    versions.map((version) => version.text),
    ['see you at 8', 'see you at 9', 'see you at 9, **** traffic'],
  );
  const [shown] = await bob.history(dm);
  assert.deepEqual([shown?.text, shown?.editedAt !== undefined], ['see you at 9, **** traffic', true]);
  const view = await freshView(t, fixture, 'bob', dm);
  assert.equal(view?.lastMessage?.text, 'see you at 9, **** traffic', 'the list shows the edited text');
  assert.equal(view?.unread, 1, 'an edit changes no count');

  await assert.rejects(bob.edit(dm, typo.seq, 'hacked'), codeOf('FORBIDDEN'));
  await assert.rejects(ann.edit(dm, typo.seq, ''), codeOf('INVALID_ARGUMENT'));
  const spot = await ann.send(dm, { content: { type: 'location', latitude: 1, longitude: 2 } });
  await assert.rejects(ann.edit(dm, spot.seq, 'text now'), codeOf('INVALID_ARGUMENT'), 'typed messages are not edited');
  await ann.recall(dm, typo.seq);
  assert.deepEqual(await bob.editHistory(dm, typo.seq), [], 'a recall takes the history with it');
});

test('delete for me hides a message from all of one user’s devices, uncounts it, and leaves it to everyone else', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const dm = await ann.direct('bob');
  const first = await ann.send(dm, { text: 'first' });
  const second = await ann.send(dm, { text: 'second' });
  const bob = await device(t, fixture, 'bob');
  const bobTablet = await device(t, fixture, 'bob');
  assert.equal(bob.conversation(dm)?.unread, 2);
  await bob.deleteForMe(dm, second.seq);
  await eventually(() => bobTablet.amended.some((change) => change.change === 'deleted' && change.seq === second.seq), 5000, "bob's tablet hides it too");
  await eventually(() => bob.conversation(dm)?.unread === 1 && bobTablet.conversation(dm)?.unread === 1, 5000, 'it no longer counts');
  const bobView = await freshView(t, fixture, 'bob', dm);
  assert.deepEqual([bobView?.unread, bobView?.lastMessage?.text], [1, 'first']);
  assert.deepEqual(
    (await bob.history(dm)).map((message) => message.text),
    ['first'],
    'gone from his history',
  );
  assert.deepEqual(
    (await ann.history(dm)).map((message) => message.text),
    ['first', 'second'],
    'ann still has both',
  );
  assert.equal(ann.amended.length, 0, "ann's devices hear nothing of it");
  await bob.deleteForMe(dm, second.seq); // again: nothing more
  await bob.deleteForMe(dm, first.seq);
  await eventually(() => bob.conversation(dm)?.unread === 0, 5000, 'nothing left unread');
});

test('unread and mention counts stay exact through a random mix of sends with mentions, reads, recalls, deletions for oneself and edits', { timeout: 120_000 }, async (t) => {
  const fixture = await startTestServer(t);
  const users = ['ann', 'bob', 'cat'];
  for (const id of users) await fixture.api.call('POST', '/v1/users', { id });
  const clients = new Map<string, ParleyClient & { amended: AmendedMessage[] }>();
  for (const id of users) clients.set(id, await device(t, fixture, id));
  const client = (id: string) => clients.get(id) as ParleyClient & { amended: AmendedMessage[] };
  const group = (await client('ann').createGroup({ name: 'Mix', memberIds: ['bob', 'cat'] })).id;

  // The model: every user message, who sent it, whether recalled, who deleted it; each user's read position.
  const messages: Array<{ seq: number; senderId: string; recalled: boolean; hiddenFor: Set<string>; mentions: Set<string> }> = [];
  const readSeq = new Map(users.map((id) => [id, 0]));
  const unreadFor = (userId: string) =>
    messages.filter((message) => message.senderId !== userId && message.seq > (readSeq.get(userId) ?? 0) && !message.recalled && !message.hiddenFor.has(userId));
  const expectedUnread = (userId: string) => unreadFor(userId).length;
  const expectedMentions = (userId: string) => unreadFor(userId).filter((message) => message.mentions.has(userId) || message.mentions.has('@all')).length;

  const random = seededRandom(14);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  for (let step = 0; step < 80; step++) {
    const actor = pick(users);
    const roll = random();
    const mine = messages.filter((message) => message.senderId === actor && !message.recalled);
    const visible = messages.filter((message) => !message.hiddenFor.has(actor));
    if (roll < 0.45 || messages.length === 0) {
      const mentions = users.filter((id) => id !== actor && random() < 0.3);
      const mentionAll = random() < 0.1;
      const sent = await client(actor).send(group, { text: `m${step}`, mentions, mentionAll });
      messages.push({ seq: sent.seq, senderId: actor, recalled: false, hiddenFor: new Set(), mentions: new Set([...mentions, ...(mentionAll ? ['@all'] : [])]) });
      // Sending reads up to one's own message.
      readSeq.set(actor, sent.seq);
    } else if (roll < 0.6) {
      const newest = messages[messages.length - 1] as { seq: number };
      const target = Math.max(readSeq.get(actor) ?? 0, Math.ceil(random() * newest.seq));
      await client(actor).markRead(group, target);
      readSeq.set(actor, Math.max(readSeq.get(actor) ?? 0, target));
    } else if (roll < 0.75 && mine.length > 0) {
      const target = pick(mine);
      await client(actor).recall(group, target.seq);
      target.recalled = true;
    } else if (roll < 0.9 && visible.length > 0) {
      const target = pick(visible);
      await client(actor).deleteForMe(group, target.seq);
      target.hiddenFor.add(actor);
    } else if (mine.length > 0) {
      await client(actor).edit(group, pick(mine).seq, `edited at ${step}`);
    }
    for (const id of users) {
      const want = expectedUnread(id);
      const mentioned = expectedMentions(id);
      // The open device converges to it, and a fresh device's first sync says it exactly.
      await eventually(
        () => client(id).conversation(group)?.unread === want && (client(id).conversation(group)?.mentions ?? 0) === mentioned,
        5000,
        `${id}'s open device shows ${want} unread, ${mentioned} mentions after step ${step}`,
      );
      if (step % 10 === 9) {
        const fresh = await freshView(t, fixture, id, group);
        assert.deepEqual([fresh?.unread, fresh?.mentions ?? 0], [want, mentioned], `${id}'s fresh device after step ${step}`);
      }
    }
  }
});

test('reactions: aggregated per emoji, each user’s own marked, live on every device, bounded, and gone with a recall', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob', 'cat', 'out']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const bob = await device(t, fixture, 'bob');
  const cat = await device(t, fixture, 'cat');
  const outsider = await device(t, fixture, 'out');
  const group = (await ann.createGroup({ name: 'Party', memberIds: ['bob', 'cat'] })).id;
  const news = await ann.send(group, { text: 'we got the venue!' });
  await bob.react(group, news.seq, '🎉');
  await cat.react(group, news.seq, '🎉');
  await cat.react(group, news.seq, '👍🏽');
  await bob.react(group, news.seq, '🎉'); // again: nothing more
  await eventually(() => ann.amended.filter((change) => change.change === 'reacted').length === 3, 5000, 'ann sees three reactions arrive');

  const seenBy = async (client: ParleyClient) => (await client.history(group)).find((message) => message.seq === news.seq)?.reactions;
  assert.deepEqual(await seenBy(ann), [
    { emoji: '🎉', count: 2, mine: false },
    { emoji: '👍🏽', count: 1, mine: false },
  ]);
  assert.deepEqual(await seenBy(cat), [
    { emoji: '🎉', count: 2, mine: true },
    { emoji: '👍🏽', count: 1, mine: true },
  ]);
  // Applying the events to the message as first received gives the same.
  let shown: Message | undefined = news;
  for (const change of ann.amended) if (shown !== undefined) shown = applyAmendment(shown, change, 'ann');
  assert.deepEqual(shown?.reactions, [
    { emoji: '🎉', count: 2, mine: false },
    { emoji: '👍🏽', count: 1, mine: false },
  ]);

  await cat.react(group, news.seq, '🎉', false);
  assert.deepEqual(await seenBy(cat), [
    { emoji: '🎉', count: 1, mine: false },
    { emoji: '👍🏽', count: 1, mine: true },
  ]);
  const view = await freshView(t, fixture, 'ann', group);
  assert.equal(view?.lastMessage?.seq, news.seq, 'reactions are never the last message');
  assert.equal(view?.unread, 0, 'nor unread');

  await assert.rejects(bob.react(group, news.seq, 'hello'), codeOf('INVALID_ARGUMENT'));
  await assert.rejects(outsider.react(group, news.seq, '👍'), (error: ParleyError) => ['FORBIDDEN', 'NOT_FOUND'].includes(error.codeName));
  for (const emoji of ['😀', '😎']) await bob.react(group, news.seq, emoji);
  await assert.rejects(bob.react(group, news.seq, '🥳'), codeOf('LIMIT_EXCEEDED'), 'three per user per message');

  await ann.recall(group, news.seq);
  assert.equal((await seenBy(ann))?.length ?? 0, 0, 'a recall takes the reactions with it');
  await assert.rejects(bob.react(group, news.seq, '👍'), codeOf('INVALID_ARGUMENT'));
});

test('mentions and replies: counted per member, kept to members, and a reply names a message the sender may read', async (t) => {
  const fixture = await startTestServer(t);
  for (const id of ['ann', 'bob', 'cat', 'out']) await fixture.api.call('POST', '/v1/users', { id });
  const ann = await device(t, fixture, 'ann');
  const group = (await ann.createGroup({ name: 'Team', memberIds: ['bob', 'cat'] })).id;
  const bobPhone = await device(t, fixture, 'bob');
  await bobPhone.mute(group);
  await bobPhone.close();
  const ask = await ann.send(group, { text: '@Bob can you check?', mentions: ['bob', 'out', 'ann'] });
  assert.deepEqual(ask.mentions, ['bob'], 'outsiders and oneself are left out');
  await ann.send(group, { text: '@all standup in 5', mentionAll: true });
  await ann.send(group, { text: 'thanks' });
  const bobView = await freshView(t, fixture, 'bob', group);
  assert.deepEqual([bobView?.unread, bobView?.mentions], [3, 2], 'bob: both mentions, muted or not');
  const catView = await freshView(t, fixture, 'cat', group);
  assert.deepEqual([catView?.unread, catView?.mentions], [3, 1], 'cat: only @all');

  const cat = await device(t, fixture, 'cat');
  const answer = await cat.send(group, { text: 'on it', replyTo: ask.seq });
  assert.equal(answer.replyTo, ask.seq);
  const [pulled] = (await ann.history(group)).filter((message) => message.seq === answer.seq);
  assert.equal(pulled?.replyTo, ask.seq, 'the reply names what it answers');
  await assert.rejects(cat.send(group, { text: 'x', replyTo: 999 }), codeOf('INVALID_ARGUMENT'));
  await assert.rejects(cat.send(group, { text: 'x', replyTo: 1 }), codeOf('INVALID_ARGUMENT'), 'a system event cannot be answered');

  // A recalled mention stops counting.
  await ann.recall(group, ask.seq);
  assert.deepEqual([(await freshView(t, fixture, 'bob', group))?.mentions], [1]);
});
