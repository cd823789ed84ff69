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

/** An ISO-BMFF (MP4) file: an ftyp box, then `size` bytes of mdat. Sniffs as video/mp4. */
export function mp4(size = 600_000): Buffer {
  const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypisom'), Buffer.from([0, 0, 2, 0]), Buffer.from('isomiso2')]);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(size + 8, 0);
  header.write('mdat', 4);
  return Buffer.concat([ftyp, header, randomBytes(size)]);
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A PNG of random pixels: it does not compress, so its size follows its dimensions. */
export async function noise(width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png().toBuffer();
}
