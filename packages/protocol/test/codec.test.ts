/** Property tests of the packet codec and the stream reader. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Frame, LengthPrefixedReader, ParleyError, decodePacket, encodeFrameEntry, encodePacket, joinEntries, lengthPrefixed } from '@parley/protocol';

const pushFrame = (seq: number, text: string): Frame => ({
  requestId: 0,
  body: {
    $case: 'push',
    value: { id: String(seq), conversationId: 'c', seq, senderId: 'u', clientMsgId: `m${seq}`, type: 1, text, createdAt: 1, visibleTo: '', hidden: false, recalledAt: 0, editedAt: 0, reactions: [] },
  },
});

test('decoding random bytes either yields frames or throws BAD_FRAME, nothing else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      try {
        const frames = decodePacket(bytes);
        assert.ok(frames.length > 0);
      } catch (error) {
        assert.ok(error instanceof ParleyError, String(error));
        assert.equal(error.codeName, 'BAD_FRAME');
      }
    }),
    { numRuns: 3000 },
  );
});

test('mutated valid packets never throw anything but BAD_FRAME', () => {
  const valid = encodePacket([pushFrame(1, 'hello'), pushFrame(2, 'world')]);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(valid.length), (edits, cut) => {
      const bytes = valid.slice(0, Math.max(1, cut));
      for (const [index, value] of edits) if (index < bytes.length) bytes[index] = value;
      try {
        decodePacket(bytes);
      } catch (error) {
        assert.ok(error instanceof ParleyError && error.codeName === 'BAD_FRAME', String(error));
      }
    }),
    { numRuns: 3000 },
  );
});

test('concatenated packet entries decode to the same frames in order', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 200 }), { minLength: 1, maxLength: 20 }), (texts) => {
      const frames = texts.map((text, index) => pushFrame(index + 1, text));
      const decoded = decodePacket(joinEntries(frames.map(encodeFrameEntry)));
      assert.deepEqual(
        decoded.map((frame) => (frame.body?.$case === 'push' ? frame.body.value.text : undefined)),
        texts,
      );
    }),
  );
});

test('the stream reader reassembles packets from any chunking', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 10 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), (packets, cuts) => {
      const stream = joinEntries(packets.map(lengthPrefixed));
      const reader = new LengthPrefixedReader(1024);
      const out: Uint8Array[] = [];
      let offset = 0;
      for (let index = 0; offset < stream.length; index++) {
        const size = cuts[index % cuts.length] as number;
        out.push(...reader.push(stream.subarray(offset, offset + size)));
        offset += size;
      }
      assert.deepEqual(out.map((p) => Array.from(p)), packets.map((p) => Array.from(p)));
      assert.equal(reader.pendingBytes, 0);
    }),
  );
});

test('a length prefix over the limit is refused before its bytes arrive', () => {
  const reader = new LengthPrefixedReader(1024);
  assert.throws(() => reader.push(new Uint8Array([0xff, 0xff, 0xff, 0xff])), (error: unknown) => error instanceof ParleyError && error.codeName === 'TOO_LARGE');
  assert.throws(() => new LengthPrefixedReader(1024).push(new Uint8Array([0, 0, 4, 1])), (error: unknown) => error instanceof ParleyError && error.codeName === 'TOO_LARGE');
});
