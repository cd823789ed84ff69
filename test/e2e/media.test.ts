/**
 * The media channel end to end: typed messages carrying uploads, sent with
 * the SDK's one-call sends and fetched by other members over HTTP; what the
 * server makes of uploads (sniffed types, EXIF stripped, previews), the
 * limits and quota, who may download what (also after leaving a group),
 * ranges, caching, signed URLs, resumed uploads and a cut connection.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ManualClock, ParleyError } from '@parley/client';
import sharp from 'sharp';
import { connectDevice, proxyInFront } from '../support/devices.js';
import { type TestServer, eventually, startTestServer } from '../support/fixtures.js';
import { animatedGif, jpegWithExif, mp4, noise, pdf, png, sha256 } from '../support/media-files.js';

async function setup(t: { after(fn: () => unknown): void }, fixture: TestServer, users: string[]) {
  for (const user of users) await fixture.api.createUser(user);
  return Promise.all(users.map((user) => connectDevice(fixture, user, fixture.server.wsUrl, t)));
}

async function get(fixture: TestServer, path: string, token?: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(fixture.server.httpUrl + path, { headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers } });
}

async function bytesOf(response: Response): Promise<Buffer> {
  return Buffer.from(await response.arrayBuffer());
}

describe('media', () => {
  test('a photo reaches the peer with its preview at once; the stored original is upright and carries no EXIF', async (t) => {
    const fixture = await startTestServer(t);
    const [amy, ben] = await setup(t, fixture, ['amy', 'ben']);
    const conversationId = await amy!.client.direct('ben');
    const photo = await jpegWithExif(64, 32);
    const progress: number[] = [];
    const sent = await amy!.client.sendImage(conversationId, photo, { caption: 'the view', onProgress: (p) => progress.push(p.sentBytes) });

    assert.equal(sent.content?.type, 'image');
    assert.equal(sent.text, '📷 Photo: the view', 'the fallback line old clients and the list show');
    assert.equal(progress.at(-1), photo.length);
    await eventually(() => ben!.messages.some((message) => message.seq === sent.seq), 5000, 'the photo at ben');
    const received = ben!.messages.find((message) => message.seq === sent.seq);
    assert.ok(received?.content?.type === 'image');
    const content = received.content;
    // Orientation 6 turns 64×32 into 32×64.
    assert.deepEqual([content.width, content.height], [32, 64]);
    assert.equal(content.media.mimeType, 'image/jpeg');
    assert.ok(content.thumbhash.length > 5 && content.thumbhash.length < 40, 'a ThumbHash preview inline');
    assert.equal(content.caption, 'the view');
    const summary = ben!.client.conversations().find((conversation) => conversation.id === conversationId);
    assert.equal(summary?.lastMessage?.text, '📷 Photo: the view');

    const original = await bytesOf(await fetch(await ben!.client.mediaUrl(content.media, 'original')));
    const metadata = await sharp(original).metadata();
    assert.deepEqual([metadata.width, metadata.height], [32, 64]);
    assert.equal(metadata.exif, undefined, 'EXIF stripped');
    assert.ok(!original.includes('secret-camera-owner'));
    const medium = await fetch(await ben!.client.mediaUrl(content.media, 'medium'));
    assert.equal(medium.headers.get('content-type'), 'image/webp');
    assert.equal((await sharp(await bytesOf(medium)).metadata()).width, 32);
  });

  test('a file card: the type comes from the bytes, and the peer downloads identical bytes', async (t) => {
    const fixture = await startTestServer(t);
    const [amy] = await setup(t, fixture, ['amy', 'ben']);
    const conversationId = await amy!.client.direct('ben');
    const report = pdf(300_000);
    const sent = await amy!.client.sendFile(conversationId, report, { fileName: 'report.txt' });
    assert.ok(sent.content?.type === 'file');
    assert.equal(sent.content.media.mimeType, 'application/pdf', 'sniffed, whatever the name says');
    assert.equal(sent.text, '📎 report.txt');
    const token = await fixture.api.token('ben');
    const response = await get(fixture, `/media/${sent.content.media.mediaId}/original`, token);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-disposition') ?? '', /^attachment; filename\*=UTF-8''report\.txt$/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(sha256(await bytesOf(response)), sha256(report));
  });

  test('a lying client: bytes that are not an image are refused as an image, and nothing is sent', async (t) => {
    const fixture = await startTestServer(t);
    const [amy] = await setup(t, fixture, ['amy', 'ben']);
    const conversationId = await amy!.client.direct('ben');
    await assert.rejects(amy!.client.sendImage(conversationId, pdf(1000), { fileName: 'cat.jpg' }), (error: unknown) => {
      return error instanceof ParleyError && error.name === 'INVALID_ARGUMENT' && /application\/pdf, not a image/.test(error.message);
    });
    // A typed message naming media that does not exist, or someone else's.
    await assert.rejects(amy!.client.send(conversationId, { content: { type: 'image', mediaId: '0'.repeat(32) } }), (error: unknown) => {
      return error instanceof ParleyError && error.name === 'NOT_FOUND';
    });
  });

  test('sizes are bounded per kind and uploads per user by a quota', async (t) => {
    const fixture = await startTestServer(t, { mediaLimits: { maxImageBytes: 2000, quotaBytesPerUser: 20_000 } });
    const [amy] = await setup(t, fixture, ['amy', 'ben']);
    const conversationId = await amy!.client.direct('ben');
    await assert.rejects(amy!.client.sendImage(conversationId, await noise(100, 100)), (error: unknown) => error instanceof ParleyError && error.name === 'TOO_LARGE');
    const report = pdf(15_000);
    const first = await amy!.client.sendFile(conversationId, report);
    await assert.rejects(amy!.client.sendFile(conversationId, pdf(10_000)), (error: unknown) => {
      return error instanceof ParleyError && error.name === 'LIMIT_EXCEEDED' && /quota/.test(error.message);
    });
    // The same bytes again are no new upload: they count once, and fit.
    const again = await amy!.client.sendFile(conversationId, report);
    assert.ok(again.content?.type === 'file' && first.content?.type === 'file');
    assert.equal(again.content.media.mediaId, first.content.media.mediaId);
  });

  test('the server checks the declared size and kind before any byte arrives', async (t) => {
    const fixture = await startTestServer(t, { mediaLimits: { maxImageBytes: 2000, maxUnfinishedUploadsPerUser: 2 } });
    await fixture.api.createUser('amy');
    const token = await fixture.api.token('amy');
    const create = (length: number, kind: string, as: string | null = token) =>
      fetch(`${fixture.server.httpUrl}/media/uploads`, {
        method: 'POST',
        headers: { ...(as === null ? {} : { authorization: `Bearer ${as}` }), 'tus-resumable': '1.0.0', 'upload-length': String(length), 'upload-metadata': `kind ${Buffer.from(kind).toString('base64')}` },
      });
    const tooLarge = await create(5000, 'image');
    assert.equal(tooLarge.status, 413);
    assert.equal(((await tooLarge.json()) as { error: { name: string } }).error.name, 'TOO_LARGE');
    assert.equal((await create(100, 'sticker')).status, 400);
    assert.equal((await create(100, 'image', null)).status, 401);
    assert.equal((await create(100, 'image', 'not-a-token')).status, 401);
    // Unfinished uploads hold staging space: a user has only so many at once.
    const first = await create(100, 'file');
    assert.equal((await create(100, 'file')).status, 201);
    const third = await create(100, 'file');
    assert.equal(third.status, 422);
    assert.equal(((await third.json()) as { error: { name: string } }).error.name, 'LIMIT_EXCEEDED');
    const cancelled = await fetch(`${fixture.server.httpUrl}${first.headers.get('location')}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0' } });
    assert.equal(cancelled.status, 204);
    assert.equal((await create(100, 'file')).status, 201);
  });

  test('the same bytes are stored once; the same owner gets the same media back, without uploading again', async (t) => {
    const fixture = await startTestServer(t);
    const [amy, ben] = await setup(t, fixture, ['amy', 'ben']);
    const photo = await png();
    const first = await amy!.client.uploadMedia('image', photo);
    const progress: number[] = [];
    const second = await amy!.client.uploadMedia('image', photo, { onProgress: (p) => progress.push(p.sentBytes) });
    assert.equal(second.mediaId, first.mediaId);
    const bens = await ben!.client.uploadMedia('image', photo);
    assert.notEqual(bens.mediaId, first.mediaId, 'another owner gets its own media item');
    const { readdir } = await import('node:fs/promises');
    const files = (await readdir(`${fixture.dataDir}/media`, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
    assert.equal(files.length, 2, 'one original and one medium size, however often uploaded');
  });

  test('downloads follow the conversation: strangers get 404 with a valid token, and a removed member keeps only what it could read', async (t) => {
    const fixture = await startTestServer(t);
    const [amy, ben, cat] = await setup(t, fixture, ['amy', 'ben', 'cat']);
    const group = await amy!.client.createGroup({ name: 'trip', memberIds: ['ben'] });
    const before = await amy!.client.sendImage(group.id, await png(10, 10));
    assert.ok(before.content?.type === 'image');
    const catToken = await fixture.api.token('cat');
    const path = `/media/${before.content.media.mediaId}/original`;
    assert.equal((await get(fixture, path, catToken)).status, 404, 'someone else\'s media is as unknown as none');
    assert.equal((await get(fixture, path)).status, 401);
    await assert.rejects(cat!.client.send(await cat!.client.direct('amy'), { content: { type: 'image', mediaId: before.content.media.mediaId } }), (error: unknown) => {
      return error instanceof ParleyError && error.name === 'NOT_FOUND';
    });

    const benToken = await fixture.api.token('ben');
    assert.equal((await get(fixture, path, benToken)).status, 200);
    await amy!.client.removeMember(group.id, 'ben');
    const after = await amy!.client.sendImage(group.id, await png(12, 12));
    assert.ok(after.content?.type === 'image');
    assert.equal((await get(fixture, path, benToken)).status, 200, 'from inside the window');
    assert.equal((await get(fixture, `/media/${after.content.media.mediaId}/original`, benToken)).status, 404, 'after the removal');

    // Forwarding: a member may attach media it can read to another conversation.
    await amy!.client.addMembers(group.id, ['cat']);
    const forwarded = await ben!.client.send(await ben!.client.direct('cat'), { content: { type: 'image', mediaId: before.content.media.mediaId } });
    assert.ok(forwarded.content?.type === 'image');
    assert.equal((await get(fixture, path, catToken)).status, 200);
  });

  test('ranges, ETags and caching, as players and browsers use them', async (t) => {
    const fixture = await startTestServer(t);
    const [amy] = await setup(t, fixture, ['amy', 'ben']);
    const video = mp4(500_000);
    const sent = await amy!.client.sendVideo(await amy!.client.direct('ben'), video, { durationMs: 10_000, width: 640, height: 360 });
    assert.ok(sent.content?.type === 'video');
    assert.deepEqual([sent.content.width, sent.content.height, sent.content.durationMs], [640, 360, 10_000]);
    assert.equal(sent.text, '🎬 Video (0:10)');
    const token = await fixture.api.token('amy');
    const path = `/media/${sent.content.media.mediaId}/original`;

    const partial = await get(fixture, path, token, { range: 'bytes=100-1099' });
    assert.equal(partial.status, 206);
    assert.equal(partial.headers.get('content-range'), `bytes 100-1099/${video.length}`);
    assert.ok((await bytesOf(partial)).equals(video.subarray(100, 1100)));
    const tail = await get(fixture, path, token, { range: 'bytes=-10' });
    assert.ok((await bytesOf(tail)).equals(video.subarray(video.length - 10)));
    const outside = await get(fixture, path, token, { range: `bytes=${video.length}-` });
    assert.equal(outside.status, 416);
    assert.equal(outside.headers.get('content-range'), `bytes */${video.length}`);

    const whole = await get(fixture, path, token);
    const etag = whole.headers.get('etag') ?? '';
    assert.match(whole.headers.get('cache-control') ?? '', /immutable/);
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    await whole.arrayBuffer();
    assert.equal((await get(fixture, path, token, { 'if-none-match': etag })).status, 304);
    const stale = await get(fixture, path, token, { range: 'bytes=0-9', 'if-range': '"something-else"' });
    assert.equal(stale.status, 200, 'a range for other bytes than these gets the whole object');
    await stale.arrayBuffer();
  });

  test('signed URLs work without a token until they expire, and only for their item and size', async (t) => {
    const clock = new ManualClock(Date.now());
    const fixture = await startTestServer(t, { clock });
    const [amy] = await setup(t, fixture, ['amy', 'ben']);
    const sent = await amy!.client.sendImage(await amy!.client.direct('ben'), await png());
    assert.ok(sent.content?.type === 'image');
    const url = await amy!.client.mediaUrl(sent.content.media, 'medium');
    assert.equal((await fetch(url)).status, 200);
    assert.equal((await fetch(url.replace('/medium?', '/original?'))).status, 403, 'a signature is for one size');
    clock.advance(11 * 60 * 1000);
    const expired = await fetch(url);
    assert.equal(expired.status, 403);
    assert.equal(((await expired.json()) as { error: { name: string } }).error.name, 'FORBIDDEN');
  });

  test('a video sent without its length and size gets them from its container; a sender\'s figures fill in where the container has none', async (t) => {
    const fixture = await startTestServer(t);
    const [amy] = await setup(t, fixture, ['amy', 'ben']);
    const conversationId = await amy!.client.direct('ben');
    const probed = await amy!.client.sendVideo(conversationId, mp4(50_000, { durationMs: 65_000, width: 1920, height: 1080, moovAtEnd: true }));
    assert.ok(probed.content?.type === 'video');
    assert.deepEqual([probed.content.width, probed.content.height, probed.content.durationMs], [1920, 1080, 65_000]);
    assert.equal(probed.text, '🎬 Video (1:05)');
    const told = await amy!.client.sendVideo(conversationId, mp4(40_000), { durationMs: 4000, width: 320, height: 240 });
    assert.ok(told.content?.type === 'video');
    assert.deepEqual([told.content.width, told.content.height, told.content.durationMs], [320, 240, 4000]);
    // A damaged container (cut inside its moov box) is still a video: the sender's figures stand.
    const damaged = await amy!.client.sendVideo(conversationId, mp4(10, { durationMs: 9000, width: 640, height: 480 }).subarray(0, 60), { durationMs: 3000 });
    assert.ok(damaged.content?.type === 'video');
    assert.equal(damaged.content.durationMs, 3000);
  });

  test('an animated GIF keeps its animation in the medium size and gets a poster', async (t) => {
    const fixture = await startTestServer(t);
    const [amy] = await setup(t, fixture, ['amy', 'ben']);
    const sent = await amy!.client.sendImage(await amy!.client.direct('ben'), await animatedGif());
    assert.ok(sent.content?.type === 'image');
    assert.equal(sent.content.animated, true);
    assert.equal(sent.text, '🎞️ GIF');
    const medium = await bytesOf(await fetch(await amy!.client.mediaUrl(sent.content.media, 'medium')));
    assert.equal((await sharp(medium, { animated: true }).metadata()).pages, 2);
    const poster = await fetch(await amy!.client.mediaUrl(sent.content.media, 'poster'));
    assert.equal(poster.status, 200);
    assert.equal((await sharp(await bytesOf(poster)).metadata()).pages ?? 1, 1);
  });

  test('a tus upload broken off halfway resumes from the server\'s offset', async (t) => {
    const fixture = await startTestServer(t);
    await fixture.api.createUser('amy');
    const token = await fixture.api.token('amy');
    const file = pdf(200_000);
    const metadata = `kind ${Buffer.from('file').toString('base64')},filename ${Buffer.from('big.pdf').toString('base64')}`;
    const created = await fetch(`${fixture.server.httpUrl}/media/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', 'upload-length': String(file.length), 'upload-metadata': metadata },
    });
    assert.equal(created.status, 201);
    const location = `${fixture.server.httpUrl}${created.headers.get('location')}`;
    const patch = (offset: number, bytes: Buffer, as = token) =>
      fetch(location, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${as}`, 'tus-resumable': '1.0.0', 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
        body: new Uint8Array(bytes),
      });
    assert.equal((await patch(0, file.subarray(0, 80_000))).status, 204);
    // Somebody else cannot see or continue it.
    await fixture.api.createUser('eve');
    assert.equal((await patch(80_000, file.subarray(80_000), await fixture.api.token('eve'))).status, 404);
    const head = await fetch(location, { method: 'HEAD', headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0' } });
    assert.equal(head.headers.get('upload-offset'), '80000');
    const done = await patch(80_000, file.subarray(80_000));
    assert.equal(done.status, 200);
    const media = (await done.json()) as { mediaId: string; mimeType: string; size: number };
    assert.deepEqual([media.mimeType, media.size], ['application/pdf', file.length]);
    assert.equal(sha256(await bytesOf(await get(fixture, `/media/${media.mediaId}/original`, token))), sha256(file));
  });

  test('the one-call send survives its connection being cut mid-upload: the upload resumes and the message is stored once', async (t) => {
    const fixture = await startTestServer(t);
    const [amy, ben] = await setup(t, fixture, ['amy', 'ben']);
    const proxy = await cuttingProxy(fixture.server.port, 300_000);
    t.after(() => proxy.close());
    const uploader = await connectDevice(fixture, 'amy', fixture.server.wsUrl, t, { httpUrl: `http://127.0.0.1:${proxy.port}` });
    const conversationId = await amy!.client.direct('ben');
    const file = pdf(1_000_000);
    const sent = await uploader.client.sendFile(conversationId, file, { fileName: 'big.pdf', clientMsgId: 'big-file-1' });
    assert.ok(proxy.cuts >= 1, 'the connection was cut');
    assert.ok(proxy.uploadedBytes < file.length * 1.5, `resumed, not restarted (${proxy.uploadedBytes} bytes sent for ${file.length})`);
    // The same call again (an app retrying after an error it saw) uploads nothing and stores nothing new.
    const before = proxy.uploadedBytes;
    const again = await uploader.client.sendFile(conversationId, file, { fileName: 'big.pdf', clientMsgId: 'big-file-1' });
    assert.equal(again.seq, sent.seq);
    assert.ok(proxy.uploadedBytes - before < 2000, 'no second upload of the same bytes');
    // An app restart: a new client instance retrying the same send uploads nothing and stores nothing new.
    const restarted = await connectDevice(fixture, 'amy', fixture.server.wsUrl, t, { httpUrl: `http://127.0.0.1:${proxy.port}` });
    const beforeRestart = proxy.uploadedBytes;
    const third = await restarted.client.sendFile(conversationId, file, { fileName: 'big.pdf', clientMsgId: 'big-file-1' });
    assert.equal(third.seq, sent.seq);
    assert.ok(proxy.uploadedBytes - beforeRestart < 2000, 'the new instance found the upload by its hash');
    await eventually(() => ben!.messages.filter((message) => message.clientMsgId === 'big-file-1').length === 1);
  });

  test('the message connection dropping in the middle of an upload changes nothing: the message goes out once when it is back', async (t) => {
    const fixture = await startTestServer(t);
    const [, ben] = await setup(t, fixture, ['amy', 'ben']);
    const proxy = await proxyInFront(fixture, t);
    const amy = await connectDevice(fixture, 'amy', proxy.urlFor(fixture.server.wsUrl), t, { httpUrl: fixture.server.httpUrl });
    const conversationId = await amy.client.direct('ben');
    let dropped = false;
    const sent = await amy.client.sendFile(conversationId, pdf(3_000_000), {
      clientMsgId: 'during-reconnect',
      onProgress: () => {
        if (dropped) return;
        dropped = true;
        proxy.resetAll();
      },
    });
    assert.ok(dropped);
    assert.ok(amy.states.some((change) => change.state === 'reconnecting'), 'the connection was lost meanwhile');
    await eventually(() => ben!.messages.some((message) => message.seq === sent.seq));
    assert.equal(ben!.messages.filter((message) => message.clientMsgId === 'during-reconnect').length, 1);
  });

  test('a cancelled upload rejects with CLOSED and sends nothing, whenever it is cancelled', async (t) => {
    const fixture = await startTestServer(t);
    const [amy, ben] = await setup(t, fixture, ['amy', 'ben']);
    const conversationId = await amy!.client.direct('ben');
    const closed = (error: unknown) => error instanceof ParleyError && error.name === 'CLOSED';
    const before = new AbortController();
    before.abort();
    await assert.rejects(amy!.client.sendFile(conversationId, pdf(1000), { signal: before.signal }), closed);
    const during = new AbortController();
    await assert.rejects(amy!.client.sendFile(conversationId, pdf(3_000_000), { signal: during.signal, onProgress: () => during.abort() }), closed);
    const marker = await amy!.client.send(conversationId, { text: 'after the cancels' });
    await eventually(() => ben!.messages.some((message) => message.seq === marker.seq));
    assert.deepEqual(ben!.messages.map((message) => message.text), ['after the cancels']);
  });

  test('media outlives a server restart, and a device that first meets the conversation through a photo can open it', async (t) => {
    // One data folder for both servers, removed after both closed.
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-media-restart-'));
    const servers: TestServer[] = [];
    t.after(async () => {
      for (const server of servers) await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const first = await startTestServer(undefined, { dataDir });
    servers.push(first);
    await first.api.createUser('amy');
    await first.api.createUser('ben');
    const amy = await connectDevice(first, 'amy', first.server.wsUrl, t);
    const group = await amy.client.createGroup({ name: 'photos', memberIds: ['ben'] });
    const photo = await png(50, 20);
    const sent = await amy.client.sendImage(group.id, photo);
    assert.ok(sent.content?.type === 'image');
    await amy.client.close();
    await first.close();

    const again = await startTestServer(undefined, { dataDir });
    servers.push(again);
    // ben's first connection ever: the group and its photo arrive together.
    const ben = await connectDevice(again, 'ben', again.server.wsUrl, t);
    await eventually(() => ben.messages.some((message) => message.seq === sent.seq));
    const received = ben.messages.find((message) => message.seq === sent.seq);
    assert.ok(received?.content?.type === 'image');
    assert.deepEqual([received.content.width, received.content.height], [50, 20]);
    const original = await bytesOf(await fetch(await ben.client.mediaUrl(received.content.media)));
    assert.deepEqual([(await sharp(original).metadata()).width], [50]);
  });

  test('a video that arrives is prefetched: its first seconds are in the cache before anyone taps it', async (t) => {
    const fixture = await startTestServer(t);
    const [amy, ben] = await setup(t, fixture, ['amy', 'ben']);
    const video = mp4(3_000_000);
    const sent = await amy!.client.sendVideo(await amy!.client.direct('ben'), video, { durationMs: 30_000, poster: await png(32, 18) });
    assert.ok(sent.content?.type === 'video');
    assert.ok(sent.content.thumbhash.length > 0, 'the poster\'s preview');
    const mediaId = sent.content.media.mediaId;
    await eventually(() => ben!.client.prefetchedMedia(mediaId) !== undefined, 5000, 'the prefetched head');
    const head = ben!.client.prefetchedMedia(mediaId) as Uint8Array;
    // 3 s of a 30 s video of 3 MB: about 300 kB.
    assert.equal(head.length, Math.ceil((video.length * 3) / 30));
    assert.ok(Buffer.from(head).equals(video.subarray(0, head.length)));
  });

  test('a backend sends typed content over the REST API and reads it back in the history, in the SDK\'s shape', async (t) => {
    const fixture = await startTestServer(t);
    const [amy, ben] = await setup(t, fixture, ['amy', 'ben']);
    const conversationId = await amy!.client.direct('ben', { subject: 'item-42' });
    const photo = await amy!.client.uploadMedia('image', await png(30, 20));
    const post = (content: unknown) => fixture.api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { senderId: 'amy', content });
    const card = await post({ type: 'custom', customType: 'shop.product_card', data: { sku: 'item-42', price: 1999 } });
    assert.equal(card.status, 201);
    assert.deepEqual(card.body.message.content, { type: 'custom', customType: 'shop.product_card', data: { sku: 'item-42', price: 1999 } });
    assert.equal(card.body.message.text, '[shop.product_card]');
    const image = await post({ type: 'image', mediaId: photo.mediaId, caption: 'the item' });
    assert.equal(image.status, 201);
    assert.equal(image.body.message.content.width, 30);
    assert.equal(image.body.message.content.media.mimeType, 'image/png');
    assert.equal(typeof image.body.message.content.thumbhash, 'string');
    await eventually(() => ben!.messages.some((message) => message.seq === image.body.message.seq));
    assert.equal(ben!.messages.find((message) => message.seq === card.body.message.seq)?.content?.type, 'custom');
    // Refusals name the problem: a field the schema does not know, a location without coordinates, media the sender may not attach.
    assert.equal((await post({ type: 'location', latitude: 1, longitude: 2, altitude: 3 })).status, 400);
    assert.equal((await post({ type: 'location', name: 'nowhere' })).body.error.name, 'INVALID_ARGUMENT');
    const bens = await fixture.api.call('POST', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { senderId: 'ben', content: { type: 'file', mediaId: '0'.repeat(32) } });
    assert.equal(bens.body.error.name, 'NOT_FOUND');
    const history = await fixture.api.call('GET', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`);
    assert.deepEqual(
      history.body.messages.map((message: { content?: { type: string } }) => message.content?.type),
      ['custom', 'image'],
    );
  });

  test('typed content counts toward the byte bound of a pull answer', async (t) => {
    const fixture = await startTestServer(t, { limits: { maxPullBytes: 20_000 } });
    const [amy] = await setup(t, fixture, ['amy', 'ben']);
    const conversationId = await amy!.client.direct('ben');
    for (let index = 0; index < 10; index++) {
      await amy!.client.send(conversationId, { content: { type: 'custom', customType: 'iot.reading', data: { index, samples: 'x'.repeat(5000) } } });
    }
    const page = await amy!.client.history(conversationId, { limit: 50 });
    assert.ok(page.length >= 1 && page.length <= 4, `${page.length} messages of about 5 kB in a 20 kB answer`);
    assert.equal(page.at(-1)?.content?.type, 'custom');
  });

  test('locations and custom kinds; an unknown custom type is refused where the deployment lists its kinds', async (t) => {
    const fixture = await startTestServer(t, { customContentTypes: ['shop.product_card'] });
    const [amy, ben] = await setup(t, fixture, ['amy', 'ben']);
    const conversationId = await amy!.client.direct('ben');
    const place = await amy!.client.send(conversationId, { content: { type: 'location', latitude: 52.52, longitude: 13.405, name: 'Alexanderplatz' } });
    assert.equal(place.text, '📍 Alexanderplatz');
    const card = await amy!.client.send(conversationId, { text: 'A product: update the app to see it', content: { type: 'custom', customType: 'shop.product_card', data: { sku: 'A-1', price: 1999 } } });
    assert.equal(card.text, 'A product: update the app to see it');
    await eventually(() => ben!.messages.some((message) => message.seq === card.seq));
    const received = ben!.messages.find((message) => message.seq === card.seq);
    assert.deepEqual(received?.content, { type: 'custom', customType: 'shop.product_card', data: { sku: 'A-1', price: 1999 } });
    await assert.rejects(amy!.client.send(conversationId, { content: { type: 'custom', customType: 'red_packet', data: {} } }), (error: unknown) => {
      return error instanceof ParleyError && error.name === 'INVALID_ARGUMENT';
    });
    await assert.rejects(amy!.client.send(conversationId, { content: { type: 'location', latitude: 91, longitude: 0 } }), (error: unknown) => {
      return error instanceof ParleyError && error.name === 'INVALID_ARGUMENT';
    });
  });
});

/**
 * A TCP proxy that resets the first connection after it has carried
 * `cutAfter` bytes upstream, and counts what it carried.
 */
async function cuttingProxy(targetPort: number, cutAfter: number): Promise<{ port: number; cuts: number; uploadedBytes: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { port: 0, cuts: 0, uploadedBytes: 0, close: async () => {} };
  let armed = true;
  const server = createServer((client) => {
    const upstream = connectTcp(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let carried = 0;
    client.on('data', (chunk: Buffer) => {
      state.uploadedBytes += chunk.length;
      carried += chunk.length;
      upstream.write(chunk);
      if (armed && carried > cutAfter) {
        armed = false;
        state.cuts += 1;
        client.resetAndDestroy();
        upstream.destroy();
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as { port: number }).port;
  state.close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}
