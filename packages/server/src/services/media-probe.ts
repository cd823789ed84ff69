/**
 * Duration and frame size read from an ISO base media file (MP4, MOV, M4A:
 * what phones record), so that a video or voice note sent without them still
 * shows its length and shape. Only the box headers are read: the `moov` box
 * (at the start of a streamable file, or at its end) and, inside it, `mvhd`
 * (timescale and duration) and each track's `tkhd` (width and height). Other
 * containers (WebM, Ogg) are left to the sender, which knows these from its
 * recorder or player.
 */
import { type FileHandle, open } from 'node:fs/promises';

export interface ContainerFacts {
  durationMs: number;
  width: number;
  height: number;
}

/** Boxes larger than this are not read into memory (a `moov` of a long video is a few MB). */
const MAX_MOOV_BYTES = 16 * 1024 * 1024;
/** Top-level boxes looked at before giving up. */
const MAX_TOP_LEVEL_BOXES = 64;

interface BoxHeader {
  type: string;
  /** Offset of the box's body. */
  body: number;
  /** Offset just past the box. */
  end: number;
}

async function readAt(file: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, offset);
  return buffer.subarray(0, bytesRead);
}

/** The box header at `offset` of `bytes`; `limit` is where the enclosing space ends (a size of 0 runs to it). */
function headerAt(bytes: Buffer, offset: number, limit: number): BoxHeader | undefined {
  if (offset + 8 > limit || offset + 8 > bytes.length) return undefined;
  let size = bytes.readUInt32BE(offset);
  const type = bytes.toString('latin1', offset + 4, offset + 8);
  let body = offset + 8;
  if (size === 1) {
    if (offset + 16 > limit || offset + 16 > bytes.length) return undefined;
    size = Number(bytes.readBigUInt64BE(offset + 8));
    body = offset + 16;
  } else if (size === 0) {
    size = limit - offset;
  }
  if (size < body - offset) return undefined;
  return { type, body, end: offset + size };
}

/** Duration and size from the file's `moov` box, or undefined when it has none (not an ISO media file). */
export async function probeContainer(path: string): Promise<ContainerFacts | undefined> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    let offset = 0;
    for (let count = 0; count < MAX_TOP_LEVEL_BOXES && offset + 8 <= size; count++) {
      const head = await readAt(file, offset, 16);
      if (head.length < 8) return undefined;
      const box = headerAt(head, 0, size - offset);
      if (box === undefined) return undefined;
      if (box.type === 'moov') {
        const length = box.end - box.body;
        if (length > MAX_MOOV_BYTES) return undefined;
        return readMoov(await readAt(file, offset + box.body, length));
      }
      offset += box.end;
    }
    return undefined;
  } finally {
    await file.close();
  }
}

function readMoov(moov: Buffer): ContainerFacts | undefined {
  const facts: ContainerFacts = { durationMs: 0, width: 0, height: 0 };
  let found = false;
  for (let offset = 0; offset < moov.length; ) {
    const box = headerAt(moov, offset, moov.length);
    if (box === undefined || box.end > moov.length) break;
    if (box.type === 'mvhd') {
      const version = moov.readUInt8(box.body);
      const timescale = version === 1 ? moov.readUInt32BE(box.body + 20) : moov.readUInt32BE(box.body + 12);
      const duration = version === 1 ? Number(moov.readBigUInt64BE(box.body + 24)) : moov.readUInt32BE(box.body + 16);
      if (timescale > 0) facts.durationMs = Math.round((duration * 1000) / timescale);
      found = true;
    } else if (box.type === 'trak' && facts.width === 0) {
      const size = trackSize(moov.subarray(box.body, box.end));
      if (size !== undefined) Object.assign(facts, size);
    }
    offset = box.end;
  }
  return found ? facts : undefined;
}

/** A track's presentation size from its `tkhd` (16.16 fixed point), when it has one (video tracks). */
function trackSize(trak: Buffer): { width: number; height: number } | undefined {
  for (let offset = 0; offset < trak.length; ) {
    const box = headerAt(trak, offset, trak.length);
    if (box === undefined || box.end > trak.length) return undefined;
    if (box.type === 'tkhd') {
      const version = trak.readUInt8(box.body);
      // The width and height are the last 8 bytes of the box in both versions.
      if (box.end - 8 < box.body + (version === 1 ? 84 : 72)) return undefined;
      const width = Math.round(trak.readUInt32BE(box.end - 8) / 65536);
      const height = Math.round(trak.readUInt32BE(box.end - 4) / 65536);
      return width > 0 && height > 0 ? { width, height } : undefined;
    }
    offset = box.end;
  }
  return undefined;
}
