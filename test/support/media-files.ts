/** Media made for tests: real images (with EXIF), a PDF-looking file, a minimal MP4 header. */
import { createHash, randomBytes } from 'node:crypto';
import sharp from 'sharp';

/** A JPEG of `width`×`height` whose EXIF says "rotate 90°" (orientation 6) and carries a GPS-like comment. */
export async function jpegWithExif(width = 64, height = 32): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExif({ IFD0: { Copyright: 'secret-camera-owner', ImageDescription: 'GPS 52.52N 13.40E' } })
    .toBuffer();
}

export async function png(width = 40, height = 30): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 1 } } }).png().toBuffer();
}

/** A two-frame animated GIF, 20×20. */
export async function animatedGif(): Promise<Buffer> {
  const frame = (r: number) => sharp({ create: { width: 20, height: 20, channels: 3, background: { r, g: 0, b: 0 } } }).raw().toBuffer();
  const frames = Buffer.concat([await frame(255), await frame(0)]);
  return sharp(frames, { raw: { width: 20, height: 40, channels: 3, pageHeight: 20 } }).gif({ loop: 0 }).toBuffer();
}

/** Bytes that start like a PDF. */
export function pdf(size = 5000): Buffer {
  return Buffer.concat([Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'), randomBytes(size)]);
}

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(body.length + 8, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

/** A box with a version and flags word. */
function fullBox(type: string, version: number, flags: number, body: Buffer): Buffer {
  const word = Buffer.alloc(4);
  word.writeUInt32BE(((version << 24) | flags) >>> 0, 0);
  return box(type, word, body);
}

/**
 * An MP4 as phones write it, reduced to what a player's first look reads:
 * ftyp, a moov with mvhd (duration) and one video track's tkhd (frame size),
 * then `size` random bytes of mdat. Sniffs as video/mp4. With `moovAtEnd`
 * the moov follows the mdat, as in files not prepared for streaming.
 */
export function mp4(size = 600_000, { durationMs = 0, width = 0, height = 0, moovAtEnd = false } = {}): Buffer {
  const ftyp = box('ftyp', Buffer.from('isom'), Buffer.from([0, 0, 2, 0]), Buffer.from('isomiso2mp41'));
  const mvhd = Buffer.alloc(96);
  mvhd.writeUInt32BE(1000, 8); // timescale
  mvhd.writeUInt32BE(durationMs, 12);
  const tkhd = Buffer.alloc(80);
  tkhd.writeUInt32BE(1, 8); // track id
  tkhd.writeUInt32BE(durationMs, 16);
  tkhd.writeUInt32BE(width * 65536, 72);
  tkhd.writeUInt32BE(height * 65536, 76);
  const moov = box('moov', fullBox('mvhd', 0, 0, mvhd), box('trak', fullBox('tkhd', 0, 3, tkhd)));
  const mdat = box('mdat', randomBytes(size));
  return Buffer.concat(moovAtEnd ? [ftyp, mdat, moov] : [ftyp, moov, mdat]);
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A PNG of random pixels: it does not compress, so its size follows its dimensions. */
export async function noise(width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png().toBuffer();
}
