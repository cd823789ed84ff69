/**
 * Media in a cluster: two nodes on PostgreSQL and NATS sharing one S3 bucket
 * (s3rver standing in for S3). A photo uploaded through one node is fetched
 * through the other, as a load balancer sends the two requests wherever it
 * likes. Skipped, with the reason, where PostgreSQL or NATS does not answer;
 * under CI they must.
 */
import assert from 'node:assert/strict';
import { type TestContext, describe, test } from 'node:test';
import { S3MediaStore } from '@parley/server';
import { natsSkipReason, postgresSkipReason } from '../../packages/server/test/support/cluster-services.js';
import { startLocalS3 } from '../../packages/server/test/support/local-s3.js';
import { connectDevice } from '../support/devices.js';
import { type TestServer, eventually } from '../support/fixtures.js';
import { startTwoNodes } from '../support/two-nodes.js';
import { png, sha256 } from '../support/media-files.js';

const skip = (await natsSkipReason()) ?? (await postgresSkipReason());

async function twoNodesSharingS3(t: TestContext): Promise<[TestServer, TestServer]> {
  const s3 = await startLocalS3();
  t.after(() => s3.close());
  await s3.createBucket('parley-media');
  // Each node has its own client of the same bucket, as separate machines would.
  const bucket = () => new S3MediaStore({ bucket: 'parley-media', ...s3.options });
  return startTwoNodes(t, ['amy', 'ben'], {}, { a: { mediaStore: bucket() }, b: { mediaStore: bucket() } });
}

describe('media across nodes', { skip }, () => {
  test('a photo uploaded through one node is fetched, original and preview, through the other', async (t) => {
    const [a, b] = await twoNodesSharingS3(t);
    const amy = await connectDevice(a, 'amy', a.server.wsUrl, t);
    const ben = await connectDevice(b, 'ben', b.server.wsUrl, t);
    const conversationId = await amy.client.direct('ben');
    const photo = await png(48, 24);
    const sent = await amy.client.sendImage(conversationId, photo, { caption: 'across' });
    await eventually(() => ben.messages.some((message) => message.seq === sent.seq), 5000, 'the photo at ben on node b');
    const received = ben.messages.find((message) => message.seq === sent.seq);
    assert.ok(received?.content?.type === 'image');
    const originalUrl = await ben.client.mediaUrl(received.content.media, 'original');
    assert.ok(originalUrl.startsWith(b.server.httpUrl), 'fetched through node b');
    const viaB = Buffer.from(await (await fetch(originalUrl)).arrayBuffer());
    assert.ok(sent.content?.type === 'image');
    const viaA = Buffer.from(await (await fetch(await amy.client.mediaUrl(sent.content.media, 'original'))).arrayBuffer());
    assert.ok(viaB.length > 0);
    assert.equal(sha256(viaB), sha256(viaA), 'the bytes node a stored');
    const medium = await fetch(await ben.client.mediaUrl(received.content.media, 'medium'));
    assert.equal(medium.status, 200);
    assert.equal(medium.headers.get('content-type'), 'image/webp');
  });
});
