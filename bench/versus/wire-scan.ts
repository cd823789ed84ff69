/**
 * A minimal reader of Parley packets for the load generator. Decoding every
 * push with the generated codec would make the generator, not the server,
 * the bottleneck at hundreds of thousands of deliveries a second; the checks
 * need only each frame's kind, request id, the message's seq and its client
 * id, which this reads straight from the protobuf wire format
 * (packages/protocol/proto/parley.proto), allocating nothing per frame.
 *
 * Client ids are `<sender index>:<counter>` (raw-peer.ts) and are parsed to
 * numbers in place.
 */

/** Frame body field numbers the generator cares about (Frame.body in parley.proto). */
export const FrameField = {
  send: 11,
  pull: 13,
  welcome: 40,
  sendAck: 41,
  conversationResult: 44,
  push: 47,
  pong: 49,
  error: 50,
} as const;

/** Called per frame; sender and counter are -1 when the frame carries no bench message id. */
export type FrameVisitor = (requestId: number, field: number, sender: number, counter: number, seq: number) => void;

let offset = 0;

function varint(bytes: Uint8Array): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[offset++] as number;
    result += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return result;
    shift += 7;
  }
}

function skip(bytes: Uint8Array, wireType: number): void {
  if (wireType === 0) varint(bytes);
  else if (wireType === 2) {
    const length = varint(bytes);
    offset += length;
  } else if (wireType === 1) offset += 8;
  else if (wireType === 5) offset += 4;
  else throw new Error(`unsupported wire type ${wireType}`);
}

// Results of readMessage, kept in module state to avoid allocating.
let sender = -1;
let counter = -1;
let seq = 0;

/** Parses `<sender>:<counter>` at bytes[start, end). */
function parseClientId(bytes: Uint8Array, start: number, end: number): void {
  let value = 0;
  sender = -1;
  for (let index = start; index < end; index++) {
    const byte = bytes[index] as number;
    if (byte === 0x3a) {
      sender = value;
      value = 0;
    } else value = value * 10 + (byte - 0x30);
  }
  counter = sender < 0 ? -1 : value;
}

/** Reads a Message (push) or SendRequest (forwarded send) in bytes[offset, end): its client id field and seq. */
function readMessage(bytes: Uint8Array, end: number, clientIdField: number): void {
  sender = -1;
  counter = -1;
  seq = 0;
  while (offset < end) {
    const tag = varint(bytes);
    const number = tag >>> 3;
    if (number === clientIdField && (tag & 7) === 2) {
      const length = varint(bytes);
      parseClientId(bytes, offset, offset + length);
      offset += length;
    } else if (clientIdField === 5 && number === 3 && (tag & 7) === 0) seq = varint(bytes);
    else skip(bytes, tag & 7);
  }
}

/** Calls `visit` for every frame of a packet, in order. */
export function scanPacket(packet: Uint8Array, visit: FrameVisitor): void {
  offset = 0;
  const packetEnd = packet.length;
  while (offset < packetEnd) {
    const tag = varint(packet);
    if (tag !== 0x0a) {
      skip(packet, tag & 7);
      continue;
    }
    const frameLength = varint(packet);
    const frameEnd = offset + frameLength;
    let requestId = 0;
    let field = 0;
    sender = -1;
    counter = -1;
    seq = 0;
    while (offset < frameEnd) {
      const frameTag = varint(packet);
      const number = frameTag >>> 3;
      if (number === 1 && (frameTag & 7) === 0) {
        requestId = varint(packet);
        continue;
      }
      if ((frameTag & 7) !== 2) {
        skip(packet, frameTag & 7);
        continue;
      }
      const bodyLength = varint(packet);
      const bodyEnd = offset + bodyLength;
      field = number;
      if (number === FrameField.push) readMessage(packet, bodyEnd, 5);
      else if (number === FrameField.send) readMessage(packet, bodyEnd, 2);
      else if (number === FrameField.sendAck) {
        // SendAck { Message message = 1; ... }
        while (offset < bodyEnd) {
          const ackTag = varint(packet);
          if (ackTag >>> 3 === 1 && (ackTag & 7) === 2) {
            const messageLength = varint(packet);
            const messageEnd = offset + messageLength;
            readMessage(packet, messageEnd, 5);
            offset = messageEnd;
          } else skip(packet, ackTag & 7);
        }
      }
      offset = bodyEnd;
    }
    offset = frameEnd;
    // Copied out first: visit may scan another packet (it never does today).
    const frameSender = sender;
    const frameCounter = counter;
    const frameSeq = seq;
    visit(requestId, field, frameSender, frameCounter, frameSeq);
  }
}
