/**
 * The pure parts of the web app's media features: how an attached file is
 * sent, what the conversation list says while it uploads, and how sizes,
 * lengths and a recording's loudness are shown. The browser test
 * (test/browser/media.test.ts at the root) covers the rest in Chromium.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EMPTY_TIMELINE, type PendingMessage, type PendingUpload, mediaKindOf, newestWaiting, waitingLine } from '../src/chat/chat-store.js';
import { formatBytes, formatDuration } from '../src/format.js';
import { downsample } from '../src/voice-recording.js';

describe('attachments', () => {
  test('photos the server can show go as photos; other images, like any other file, as files', () => {
    for (const type of ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/avif']) assert.equal(mediaKindOf(type), 'image', type);
    for (const type of ['image/svg+xml', 'image/heic', 'image/tiff', 'application/pdf', 'text/plain', '']) assert.equal(mediaKindOf(type), 'file', type);
    assert.equal(mediaKindOf('video/mp4'), 'video');
    assert.equal(mediaKindOf('video/quicktime'), 'video');
    assert.equal(mediaKindOf('audio/mpeg'), 'voice');
    assert.equal(mediaKindOf('audio/webm;codecs=opus'), 'voice');
  });

  test('an upload is listed in the words the server will use once it is sent', () => {
    assert.equal(waitingLine('image', 'beach.png'), '📷 Photo');
    assert.equal(waitingLine('file', 'report.pdf'), '📎 report.pdf');
    assert.equal(waitingLine('file', ''), '📎 File');
    assert.equal(waitingLine('voice', 'voice-message.webm', 7_400), '🎤 Voice message (0:07)');
    assert.equal(waitingLine('video', 'clip.mp4'), '🎬 Video');
  });

  test('the newest waiting send, text or upload, is the one the list shows', () => {
    const text: PendingMessage = { clientMsgId: 't', conversationId: 'c', text: 'hi', state: 'sending', createdAt: 10 };
    const upload: PendingUpload = {
      clientMsgId: 'u',
      conversationId: 'c',
      kind: 'file',
      fileName: 'a.pdf',
      mimeType: 'application/pdf',
      text: '📎 a.pdf',
      state: 'sending',
      sentBytes: 0,
      totalBytes: 5,
      createdAt: 20,
    };
    assert.equal(newestWaiting(undefined), undefined);
    assert.equal(newestWaiting(EMPTY_TIMELINE), undefined);
    assert.equal(newestWaiting({ ...EMPTY_TIMELINE, pending: [text] }), text);
    assert.equal(newestWaiting({ ...EMPTY_TIMELINE, pending: [text], uploads: [upload] }), upload);
    assert.equal(newestWaiting({ ...EMPTY_TIMELINE, pending: [{ ...text, createdAt: 30 }], uploads: [upload] })?.clientMsgId, 't');
  });
});

describe('sizes and lengths', () => {
  test('file sizes read like a file manager’s', () => {
    assert.equal(formatBytes(0), '0 bytes');
    assert.equal(formatBytes(1), '1 byte');
    assert.equal(formatBytes(1023), '1023 bytes');
    assert.equal(formatBytes(1024), '1.0 KB');
    assert.equal(formatBytes(300 * 1024), '300 KB');
    assert.equal(formatBytes(4.25 * 1024 * 1024), '4.3 MB');
    assert.equal(formatBytes(30 * 1024 * 1024), '30 MB');
    assert.equal(formatBytes(3 * 1024 ** 4), '3072 GB');
  });

  test('lengths read like a player’s clock', () => {
    assert.equal(formatDuration(0), '0:00');
    assert.equal(formatDuration(7_000), '0:07');
    assert.equal(formatDuration(750_000), '12:30');
    assert.equal(formatDuration(3_723_000), '1:02:03');
  });

  test('a recording’s loudness becomes at most the requested number of values, keeping short peaks', () => {
    assert.deepEqual([...downsample([], 64)], []);
    assert.deepEqual([...downsample([0, 0.5, 1], 64)], [0, 128, 255]);
    const levels = Array.from({ length: 640 }, (_, index) => (index === 321 ? 1 : 0.1));
    const waveform = downsample(levels, 64);
    assert.equal(waveform.length, 64);
    assert.equal(waveform[32], 255, 'a syllable between two samples still shows');
    assert.equal(waveform[0], 26);
  });
});
