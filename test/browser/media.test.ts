/**
 * Media in the web app, in a real browser against a real server: a photo and
 * a file sent from the attach button arrive on the other side (the photo
 * shows its blurred placeholder at once and then sharpens, opens full size
 * and closes with the keyboard; the file downloads byte for byte); the
 * conversation list says what arrived; an upload can be cancelled and then
 * nothing reaches the other side; a failed upload says why and is sent once
 * on Retry; dropped and pasted files are sent like attached ones; a voice
 * note is recorded and sent with its length; locations, voice notes, videos and custom messages sent by
 * another client show as their cards and players.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ParleyClient } from '@parley/client';
import type { Page, Route } from 'playwright-core';
import sharp from 'sharp';
import type { TestServer } from '../support/fixtures.js';
import {
  assertNoPageErrors,
  browserSkipReason,
  conversationItem,
  expectAttribute,
  expectCount,
  expectGone,
  expectText,
  expectTexts,
  expectVisible,
  messageTexts,
  messages,
  openConversation,
  send,
  signUp,
  startDirectChat,
  startWebServer,
  suiteBrowser,
  until,
} from './support.js';

// Without a browser: every test below is counted as skipped, with a banner (a failure in CI).
const skip = browserSkipReason('media.test.ts');

/** An 800×600 PNG: a colour gradient with some noise, so that it compresses like a photo, not like a flat image. */
async function photo(): Promise<Buffer> {
  const width = 800;
  const height = 600;
  const pixels = Buffer.alloc(width * height * 3);
  const noise = randomBytes(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = y * width + x;
      const grain = (noise[at] ?? 0) % 24;
      pixels[at * 3] = Math.round((x / width) * 220) + grain;
      pixels[at * 3 + 1] = Math.round((y / height) * 200) + grain;
      pixels[at * 3 + 2] = 160 + (grain >> 1);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** A PDF as far as type sniffing goes: the header, then random bytes. */
function pdf(bytes: number): Buffer {
  return Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(bytes - 9)]);
}

/** One second of a 440 Hz tone as 8 kHz 16-bit mono WAV. */
function wav(): Buffer {
  const rate = 8000;
  const samples = Buffer.alloc(rate * 2);
  for (let index = 0; index < rate; index++) samples.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * index) / rate) * 8000), index * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + samples.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(samples.length, 40);
  return Buffer.concat([header, samples]);
}

/** An MP4 as far as type sniffing goes (an ftyp box), not a playable one: the test only starts its player. */
function mp4(): Buffer {
  const ftyp = Buffer.alloc(24);
  ftyp.writeUInt32BE(24, 0);
  ftyp.write('ftypisom', 4);
  ftyp.writeUInt32BE(0x200, 12);
  ftyp.write('isomiso2', 16);
  return Buffer.concat([ftyp, randomBytes(4096)]);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Holds the page's requests that `matches` picks until released: what the
 * user sees while a request is under way, without racing it.
 */
async function holdRequests(page: Page, matches: (route: Route) => boolean): Promise<{ held: Route[]; release(how: 'continue' | 'abort'): Promise<void> }> {
  const held: Route[] = [];
  const handler = async (route: Route) => {
    if (matches(route)) held.push(route);
    else await route.continue();
  };
  await page.route('**/media/**', handler);
  return {
    held,
    async release(how) {
      await page.unroute('**/media/**', handler);
      for (const route of held.splice(0)) {
        // A request the page gave up on meanwhile (a cancelled upload) has nothing left to release.
        await (how === 'continue' ? route.continue() : route.abort()).catch(() => undefined);
      }
    },
  };
}

/** The message list's kinds, in order. */
function kinds(page: Page): Promise<string[]> {
  return messages(page).evaluateAll((items) => items.map((item) => item.getAttribute('data-kind') ?? ''));
}

describe('media in the web app', { timeout: 180_000 }, () => {
  let fixture: TestServer;
  let baseUrl: string;
  let files: string;
  // One server and one browser for this file; each test uses its own user ids.
  const browser = suiteBrowser(skip);

  before(async () => {
    if (skip !== undefined) return;
    fixture = await startWebServer(undefined);
    baseUrl = fixture.server.httpUrl;
    files = mkdtempSync(join(tmpdir(), 'parley-media-test-'));
  });

  after(async () => {
    await fixture?.close();
    if (files !== undefined) rmSync(files, { recursive: true, force: true });
  });

  const person = (userId: string, name: string, viewport?: { width: number; height: number }) => browser.signedUp(baseUrl, userId, name, viewport);

  test('a photo sharpens from its placeholder and opens full size; a file downloads byte for byte', { skip }, async () => {
    const alice = await person('photo-alice', 'Alice');
    const bob = await person('photo-bob', 'Bob');
    // Bob's medium-size photos wait until released: the placeholder is what he sees meanwhile.
    const medium = await holdRequests(bob.page, (route) => new URL(route.request().url()).pathname.endsWith('/medium'));

    await startDirectChat(alice.page, 'photo-bob');
    const png = await photo();
    await alice.page.getByTestId('attach-input').setInputFiles({ name: 'beach.png', mimeType: 'image/png', buffer: png });
    await expectCount(messages(alice.page).and(alice.page.locator('[data-kind="image"][data-state="sent"]')), 1);
    await expectCount(alice.page.getByTestId('upload'), 0);

    // The list says what arrived, as the server words it.
    const fromAlice = conversationItem(bob.page, 'Alice');
    await expectText(fromAlice.getByTestId('conversation-preview'), '📷 Photo');
    await openConversation(bob.page, 'Alice');
    const image = messages(bob.page).and(bob.page.locator('[data-kind="image"]'));
    await expectVisible(image);
    const placeholder = image.getByTestId('image-placeholder');
    await expectVisible(placeholder);
    assert.match((await placeholder.getAttribute('src')) ?? '', /^data:image\/png;base64,/u);
    await until(() => placeholder.evaluate((element) => (element as HTMLImageElement).naturalWidth), (width) => width > 0, 'the placeholder decoded');
    // In the photo's shape from the start: 800×600.
    const box = await image.getByTestId('image-open').boundingBox();
    assert.ok(box !== null && Math.abs(box.width / box.height - 4 / 3) < 0.02, `a 4:3 box, got ${JSON.stringify(box)}`);
    await until(() => Promise.resolve(medium.held.length), (count) => count > 0, 'the medium size to be asked for');
    await expectAttribute(image.getByTestId('image-open'), 'data-loaded', 'false');

    await medium.release('continue');
    await expectAttribute(image.getByTestId('image-open'), 'data-loaded', 'true');
    const loadedWidth = await image.getByTestId('image').evaluate((element) => (element as HTMLImageElement).naturalWidth);
    assert.ok(loadedWidth > 0, 'the photo itself loaded');

    // Full size: opened by the keyboard, closed by Escape, focus back on the photo.
    await image.getByTestId('image-open').focus();
    await bob.page.keyboard.press('Enter');
    const viewer = bob.page.getByTestId('media-viewer');
    await expectVisible(viewer);
    await until(() => viewer.getByTestId('media-viewer-image').evaluate((element) => (element as HTMLImageElement).naturalWidth), (width) => width === 800, 'the original in the viewer');
    await bob.page.keyboard.press('Escape');
    await expectGone(viewer);
    assert.equal(await bob.page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'image-open');
    // And by the mouse: a click opens, a click anywhere closes.
    await image.getByTestId('image-open').click();
    await expectVisible(viewer);
    await viewer.getByTestId('media-viewer-image').click();
    await expectGone(viewer);

    // A file: a card with its name and size, downloading under its name with the same bytes.
    const report = pdf(300 * 1024);
    await alice.page.getByTestId('attach-input').setInputFiles({ name: 'report.pdf', mimeType: 'application/pdf', buffer: report });
    await expectText(fromAlice.getByTestId('conversation-preview'), '📎 report.pdf');
    await until(() => kinds(bob.page), (list) => list.join() === 'image,file', 'the photo and the file');
    const card = bob.page.getByTestId('file-download');
    await expectText(card.getByTestId('file-name'), 'report.pdf');
    await expectVisible(card.getByText('300 KB'));
    await until(() => card.getAttribute('href'), (href) => href?.includes('/media/') === true, 'the download link');
    const downloading = bob.page.waitForEvent('download');
    await card.click();
    const download = await downloading;
    assert.equal(download.suggestedFilename(), 'report.pdf');
    assert.equal(sha256(readFileSync(await download.path())), sha256(report), 'the downloaded bytes are the sent bytes');

    // The sender sees both as sent, and the list says the last one was theirs.
    await expectCount(messages(alice.page).and(alice.page.locator('[data-state="sent"]')), 2);
    await expectText(conversationItem(alice.page, 'Bob').getByTestId('conversation-preview'), 'You: 📎 report.pdf');
    assertNoPageErrors(alice, bob);
  });

  test('a cancelled upload leaves no bubble and sends nothing', { skip }, async () => {
    const alice = await person('cancel-alice', 'Alice');
    const bob = await person('cancel-bob', 'Bob');
    await startDirectChat(alice.page, 'cancel-bob');
    await send(alice.page, 'a big file is coming');
    await openConversation(bob.page, 'Alice');
    await expectTexts(messageTexts(bob.page), ['a big file is coming']);

    // The upload stays under way (its first request held) until cancelled.
    const uploads = await holdRequests(alice.page, (route) => route.request().method() === 'POST' && new URL(route.request().url()).pathname === '/media/uploads');
    const big = join(files, 'archive.zip');
    writeFileSync(big, randomBytes(30 * 1024 * 1024));
    await alice.page.getByTestId('attach-input').setInputFiles(big);
    const bubble = alice.page.getByTestId('upload');
    await expectVisible(bubble.getByTestId('upload-progress'));
    await expectAttribute(bubble, 'data-state', 'uploading');
    await until(() => Promise.resolve(uploads.held.length), (count) => count > 0, 'the upload to start');
    // While it uploads, the list shows it as the last message, waiting.
    await expectText(conversationItem(alice.page, 'Bob').getByTestId('conversation-preview'), 'You: 📎 archive.zip');

    // Cancel aborts the request itself: were it only hidden, releasing it would send the file.
    const request = uploads.held[0]?.request();
    let abortedWith: string | undefined;
    alice.page.on('requestfailed', (failed) => {
      if (failed === request) abortedWith = failed.failure()?.errorText;
    });
    await bubble.getByTestId('upload-cancel').click();
    await expectGone(bubble);
    await until(() => Promise.resolve(abortedWith), (reason) => reason === 'net::ERR_ABORTED', 'the upload request to be aborted by the page');
    await uploads.release('continue');

    // A message after it arrives right after the first: nothing came in between, on either side.
    await send(alice.page, 'never mind');
    await expectTexts(messageTexts(bob.page), ['a big file is coming', 'never mind']);
    await expectTexts(messageTexts(alice.page), ['a big file is coming', 'never mind']);
    assert.deepEqual(await kinds(bob.page), ['text', 'text']);
    await expectText(conversationItem(bob.page, 'Alice').getByTestId('conversation-preview'), 'never mind');
    assertNoPageErrors(alice, bob);
  });

  test('a failed upload says why, and Retry sends it once', { skip }, async () => {
    const alice = await person('retry-alice', 'Alice');
    const bob = await person('retry-bob', 'Bob');
    await startDirectChat(alice.page, 'retry-bob');

    // The server refuses the first attempt, as it does when the user's media quota is used up.
    const refuse = async (route: Route) => {
      if (route.request().method() !== 'POST') return route.continue();
      await route.fulfill({
        status: 422,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 422, name: 'LIMIT_EXCEEDED', message: 'this upload would pass the media quota' } }),
      });
    };
    await alice.page.route('**/media/uploads', refuse);
    const notes = pdf(64 * 1024);
    await alice.page.getByTestId('attach-input').setInputFiles({ name: 'notes.pdf', mimeType: 'application/pdf', buffer: notes });
    const bubble = alice.page.getByTestId('upload');
    await expectAttribute(bubble, 'data-state', 'failed');
    await expectText(bubble.getByTestId('upload-error'), 'Your storage for media is full.');
    await expectText(conversationItem(alice.page, 'Bob').getByTestId('conversation-preview'), 'You: 📎 notes.pdf');

    await alice.page.unroute('**/media/uploads', refuse);
    await bubble.getByTestId('upload-retry').click();
    await expectGone(bubble);
    await expectCount(messages(alice.page).and(alice.page.locator('[data-kind="file"][data-state="sent"]')), 1);

    await openConversation(bob.page, 'Alice');
    await until(() => kinds(bob.page), (list) => list.join() === 'file', 'one file');
    await expectText(bob.page.getByTestId('file-name'), 'notes.pdf');
    assertNoPageErrors(alice, bob);
  });

  test('files dropped on the conversation and images pasted into the composer are sent', { skip }, async () => {
    const alice = await person('drop-alice', 'Alice');
    const bob = await person('drop-bob', 'Bob');
    await startDirectChat(alice.page, 'drop-bob');

    // A file dragged from the desktop: the conversation says where it goes, and the drop sends it.
    const dropped = await alice.page.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['%PDF-1.7\nminutes of the meeting'], 'minutes.pdf', { type: 'application/pdf' }));
      return transfer;
    });
    const column = alice.page.locator('.chat-column');
    await column.dispatchEvent('dragenter', { dataTransfer: dropped });
    await expectVisible(alice.page.getByTestId('drop-overlay'));
    await column.dispatchEvent('drop', { dataTransfer: dropped });
    await expectGone(alice.page.getByTestId('drop-overlay'));

    // A screenshot pasted into the text area goes as a photo, and the text area keeps its text.
    await alice.page.getByTestId('composer-input').fill('draft stays');
    const png = (await photo()).toString('base64');
    await alice.page.getByTestId('composer-input').evaluate((input, base64) => {
      const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
      const clipboard = new DataTransfer();
      clipboard.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
      input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: clipboard, bubbles: true, cancelable: true }));
    }, png);

    await openConversation(bob.page, 'Alice');
    // Two uploads under way at once: each message is stored when its upload completes, in either order.
    await until(() => kinds(bob.page), (list) => [...list].sort().join() === 'file,image', 'the dropped file and the pasted photo');
    await expectText(bob.page.getByTestId('file-name'), 'minutes.pdf');
    assert.equal(await alice.page.getByTestId('composer-input').inputValue(), 'draft stays');
    assertNoPageErrors(alice, bob);
  });

  test('a voice note is recorded, sent with its length, and a cancelled one is not sent', { skip }, async () => {
    const alice = await browser.newUser();
    // The browser has no microphone here: a tone stands in for one, recorded by the real MediaRecorder.
    await alice.context.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = async () => {
        const audio = new AudioContext();
        const tone = audio.createOscillator();
        const microphone = audio.createMediaStreamDestination();
        tone.connect(microphone);
        tone.start();
        return microphone.stream;
      };
    });
    await signUp(alice.page, baseUrl, 'voice-alice', 'Alice');
    const bob = await person('voice-bob', 'Bob');
    await startDirectChat(alice.page, 'voice-bob');
    await send(alice.page, 'listen');

    // Escape drops a recording.
    await alice.page.getByTestId('record-button').click();
    await expectVisible(alice.page.getByTestId('recording-bar'));
    await alice.page.keyboard.press('Escape');
    await expectGone(alice.page.getByTestId('recording-bar'));

    await alice.page.getByTestId('record-button').click();
    const bar = alice.page.getByTestId('recording-bar');
    await expectText(bar.getByRole('timer'), '0:01');
    await bar.getByTestId('recording-send').click();
    await expectGone(bar);
    await expectCount(messages(alice.page).and(alice.page.locator('[data-kind="voice"][data-state="sent"]')), 1);

    await until(
      () => conversationItem(bob.page, 'Alice').getByTestId('conversation-preview').textContent(),
      (line) => /^🎤 Voice message \(0:0[1-9]\)$/u.test(line ?? ''),
      'the voice note, with its length, in the list',
    );
    await openConversation(bob.page, 'Alice');
    await until(() => kinds(bob.page), (list) => list.join() === 'text,voice', 'the text and one voice note');
    assert.match((await bob.page.getByTestId('voice-duration').textContent()) ?? '', /^0:0[1-9]$/u);
    await until(() => bob.page.getByTestId('voice-audio').getAttribute('src'), (src) => src?.includes('/media/') === true, 'the player');
    assertNoPageErrors(alice, bob);
  });

  test('a video recorded in the browser is sent with its size, length and a poster the page made from it', { skip }, async () => {
    const alice = await person('clip-alice', 'Alice');
    const bob = await person('clip-bob', 'Bob');
    await startDirectChat(alice.page, 'clip-bob');
    // A WebM as browsers record them (no length in its header): a moving canvas through the real MediaRecorder.
    await alice.page.getByTestId('attach-input').evaluate(async (input) => {
      const canvas = document.createElement('canvas');
      canvas.width = 320;
      canvas.height = 240;
      const context = canvas.getContext('2d') as CanvasRenderingContext2D;
      const recorder = new MediaRecorder(canvas.captureStream(30), { mimeType: 'video/webm' });
      const chunks: Blob[] = [];
      recorder.ondataavailable = (event) => chunks.push(event.data);
      const stopped = new Promise((resolve) => (recorder.onstop = resolve));
      recorder.start();
      for (let frame = 0; frame < 24; frame++) {
        context.fillStyle = `hsl(${frame * 15}, 80%, 50%)`;
        context.fillRect(0, 0, 320, 240);
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      recorder.stop();
      await stopped;
      const transfer = new DataTransfer();
      transfer.items.add(new File(chunks, 'clip.webm', { type: 'video/webm' }));
      (input as HTMLInputElement).files = transfer.files;
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await openConversation(bob.page, 'Alice');
    await until(() => kinds(bob.page), (list) => list.join() === 'video', 'the video at Bob');
    const { body } = await fixture.api.call('GET', '/v1/users/clip-bob/conversations');
    const conversationId = body.conversations[0].id as string;
    const history = await fixture.api.call('GET', `/v1/conversations/${encodeURIComponent(conversationId)}/messages`);
    const video = history.body.messages.at(-1).content;
    assert.equal(video.type, 'video');
    assert.deepEqual([video.width, video.height], [320, 240]);
    assert.notEqual(video.posterMediaId, '', 'a poster made by the page');
    assert.ok(video.thumbhash.length > 0, 'the poster\'s preview travels with the message');
    assertNoPageErrors(alice, bob);
  });

  test('places, voice notes, videos and custom messages from another client show as cards and players', { skip }, async () => {
    await fixture.api.createUser('sdk-alice', 'Alice');
    const bob = await person('cards-bob', 'Bob');
    const alice = new ParleyClient({ url: fixture.server.wsUrl, token: await fixture.api.token('sdk-alice'), reconnect: false, prefetchVideo: false });
    await alice.connect();
    try {
      const conversationId = await alice.direct('cards-bob');
      await alice.send(conversationId, {
        content: { type: 'location', latitude: 48.85837, longitude: 2.294481, name: 'Eiffel Tower', address: 'Champ de Mars, Paris' },
      });
      await alice.sendVoice(conversationId, wav(), { fileName: 'hello.wav', durationMs: 1000 });
      const poster = await sharp({ create: { width: 320, height: 180, channels: 3, background: '#3355aa' } }).png().toBuffer();
      await alice.sendVideo(conversationId, mp4(), { fileName: 'clip.mp4', width: 1280, height: 720, durationMs: 10_000, poster, caption: 'The view' });
      await alice.send(conversationId, { content: { type: 'custom', customType: 'order', data: { id: 'A-17', total: 42.5, items: ['tea', 'cake'] } } });

      await expectText(conversationItem(bob.page, 'Alice').getByTestId('conversation-preview'), '[order]');
      await openConversation(bob.page, 'Alice');
      await until(() => kinds(bob.page), (list) => list.join() === 'location,voice,video,custom', 'the four kinds');

      const place = bob.page.getByTestId('location-link');
      await expectText(place.getByTestId('location-name'), 'Eiffel Tower');
      assert.equal(await place.getAttribute('href'), 'https://www.openstreetmap.org/?mlat=48.858370&mlon=2.294481#map=16/48.858370/2.294481');

      await expectText(bob.page.getByTestId('voice-duration'), '0:01');
      await until(() => bob.page.getByTestId('voice-audio').getAttribute('src'), (src) => src?.includes('/media/') === true, 'the voice note to play from the server');

      const video = messages(bob.page).and(bob.page.locator('[data-kind="video"]'));
      await expectText(video.getByTestId('media-caption'), 'The view');
      await expectVisible(video.getByText('0:10'));
      // Nothing of the video loads before the user asks: a poster and a play button.
      await expectCount(video.locator('video'), 0);
      await video.getByTestId('video-play').click();
      await until(() => video.locator('video').getAttribute('src', { timeout: 1000 }), (src) => src?.includes('/media/') === true, 'the player');

      const order = bob.page.getByTestId('custom-card');
      await expectAttribute(order, 'data-custom-type', 'order');
      await expectVisible(order.getByText('A-17'));
      await expectVisible(order.getByText('["tea","cake"]'));
      assertNoPageErrors(bob);
    } finally {
      await alice.close();
    }
  });
});
