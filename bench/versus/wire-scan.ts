/**
 * A minimal reader of Parley packets for the load generator. Decoding every
 * push with the generated codec would make the generator, not the server,
 * the bottleneck at hundreds of thousands of deliveries a second; the checks
 * need only each frame's kind, request id and the message's client id, which
 * this reads straight from the protobuf wire format (packages/protocol/proto).
 */

/** Frame body field numbers the generator cares about (Frame.body in parley.proto). */
export const FrameField = {
  send: 11,
  welcome: 40,
  sendAck: 41,
  conversationResult: 44,
  push: 47,
  pong: 49,
  error: 50,
} as const;

export interface ScannedFrame {
  requestId: number;
  /** The Frame.body field number (FrameField). */
  field: number;
  /** client_msg_id of a push, send_ack or (forwarded) send; '' otherwise. */
  clientMsgId: string;
  /** seq of a push; 0 otherwise. */
  seq: number;
}

const decoder = new TextDecoder();

class Reader {
  offset: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.offset = start;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.offset >= this.end) throw new Error('truncated varint');
      const byte = this.bytes[this.offset++] as number;
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
    }
  }

  /** Skips a field of the given wire type. */
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) {
      const length = this.varint();
      this.offset += length;
    }
    else if (wireType === 1) this.offset += 8;
    else if (wireType === 5) this.offset += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

/** The string field `wanted` of the message at bytes[start, end), or ''. */
function stringField(bytes: Uint8Array, start: number, end: number, wanted: number): string {
  const reader = new Reader(bytes, start, end);
  while (reader.offset < end) {
    const tag = reader.varint();
    if (tag >>> 3 === wanted && (tag & 7) === 2) {
      const length = reader.varint();
      return decoder.decode(bytes.subarray(reader.offset, reader.offset + length));
    }
    reader.skip(tag & 7);
  }
  return '';
}

/** The varint field `wanted` of the message at bytes[start, end), or 0. */
function varintField(bytes: Uint8Array, start: number, end: number, wanted: number): number {
  const reader = new Reader(bytes, start, end);
  while (reader.offset < end) {
    const tag = reader.varint();
    if (tag >>> 3 === wanted && (tag & 7) === 0) return reader.varint();
    reader.skip(tag & 7);
  }
  return 0;
}

/** The bounds of the embedded message `wanted` inside bytes[start, end), or undefined. */
function messageField(bytes: Uint8Array, start: number, end: number, wanted: number): [number, number] | undefined {
  const reader = new Reader(bytes, start, end);
  while (reader.offset < end) {
    const tag = reader.varint();
    if (tag >>> 3 === wanted && (tag & 7) === 2) {
      const length = reader.varint();
      return [reader.offset, reader.offset + length];
    }
    reader.skip(tag & 7);
  }
  return undefined;
}

/** Calls `visit` for every frame of a packet, in order. */
export function scanPacket(packet: Uint8Array, visit: (frame: ScannedFrame) => void): void {
  const outer = new Reader(packet, 0, packet.length);
  while (outer.offset < packet.length) {
    const tag = outer.varint();
    if (tag !== 0x0a) {
      outer.skip(tag & 7);
      continue;
    }
    const frameLength = outer.varint();
    const frameEnd = outer.offset + frameLength;
    const frame = new Reader(packet, outer.offset, frameEnd);
    let requestId = 0;
    let field = 0;
    let clientMsgId = '';
    let seq = 0;
    while (frame.offset < frameEnd) {
      const frameTag = frame.varint();
      const number = frameTag >>> 3;
      if (number === 1 && (frameTag & 7) === 0) {
        requestId = frame.varint();
        continue;
      }
      if ((frameTag & 7) !== 2) {
        frame.skip(frameTag & 7);
        continue;
      }
      const bodyLength = frame.varint();
      const bodyEnd = frame.offset + bodyLength;
      field = number;
      if (number === FrameField.push) {
        clientMsgId = stringField(packet, frame.offset, bodyEnd, 5);
        seq = varintField(packet, frame.offset, bodyEnd, 3);
      }
      else if (number === FrameField.send) clientMsgId = stringField(packet, frame.offset, bodyEnd, 2);
      else if (number === FrameField.sendAck) {
        const message = messageField(packet, frame.offset, bodyEnd, 1);
        if (message !== undefined) clientMsgId = stringField(packet, message[0], message[1], 5);
      }
      frame.offset = bodyEnd;
    }
    outer.offset = frameEnd;
    visit({ requestId, field, clientMsgId, seq });
  }
}
