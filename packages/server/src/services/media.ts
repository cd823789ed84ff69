/**
 * Media: the rules around uploads and the messages that carry them.
 *
 * - An upload is accepted as a kind (image, file, voice, video) within that
 *   kind's size limit and the owner's quota; its type is sniffed from the
 *   bytes and must fit the kind. Its bytes are stored once under their
 *   SHA-256 (a second upload of the same bytes, by anyone, stores nothing
 *   new); the same owner uploading the same bytes as the same kind gets the
 *   same media back.
 * - A typed message names media by id; the server fills in every field it
 *   knows (type, size, dimensions, preview), never trusting the sender's.
 *   A sender may attach media it uploaded, or media it can read (forwarding).
 * - Who may fetch media: its owner, and whoever may read a message that
 *   carries it (membership, access window, times out of the group, messages
 *   addressed to others: the same rules as for the message itself).
 * - Signed URLs: short-lived, for one media item and size, so that `<img>`
 *   and `<video>` tags (which send no Authorization header) can fetch it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  type Clock,
  CUSTOM_TYPE_PATTERN,
  MEDIA_KINDS,
  type MediaKind,
  type MediaRef,
  type MessageContent,
  ParleyError,
  fallbackText,
  systemClock,
} from '@parley/protocol';
import type { MediaStore } from '../media/media-store.js';
import type { MediaReference, MediaRow, Store, StoreReader, StoreTx } from '../store/store.js';
import { IMAGE_TYPES, processImage, sniffFile } from './media-processing.js';
import { probeContainer } from './media-probe.js';
import { inAbsence, readableEnd } from './views.js';

export interface MediaLimits {
  /** Largest image upload, in bytes. Default 20 MiB. */
  maxImageBytes: number;
  /** Largest file upload. Default 100 MiB. */
  maxFileBytes: number;
  /** Largest voice note. Default 10 MiB. */
  maxVoiceBytes: number;
  /** Largest video. Default 200 MiB. */
  maxVideoBytes: number;
  /** Bytes of media one user may have uploaded in all. Default 2 GiB. */
  quotaBytesPerUser: number;
  /** Most pixels an image (one frame) may have; larger ones are refused before decoding. Default 50 million. */
  maxImagePixels: number;
  /** How long a signed media URL works, in seconds. Default 600. */
  signedUrlSeconds: number;
  /** Uploads one user may have started and not finished (per node); more are LIMIT_EXCEEDED until one finishes or is cancelled. Default 16. */
  maxUnfinishedUploadsPerUser: number;
}

export const DEFAULT_MEDIA_LIMITS: MediaLimits = {
  maxImageBytes: 20 * 1024 * 1024,
  maxFileBytes: 100 * 1024 * 1024,
  maxVoiceBytes: 10 * 1024 * 1024,
  maxVideoBytes: 200 * 1024 * 1024,
  quotaBytesPerUser: 2 * 1024 * 1024 * 1024,
  maxImagePixels: 50_000_000,
  signedUrlSeconds: 600,
  maxUnfinishedUploadsPerUser: 16,
};

/** The sizes of a media item that can be fetched. */
export const MEDIA_SIZES = ['original', 'medium', 'poster'] as const;
export type MediaSize = (typeof MEDIA_SIZES)[number];

/** Longest file name kept, in characters; longer names are cut. */
const MAX_FILE_NAME = 255;
/** Longest caption, in UTF-16 units (as message text). */
const MAX_CAPTION = 1024;
/** Most media references checked when authorising a download. */
const MAX_REFERENCES_CHECKED = 200;
/** Most samples in a voice note's waveform. */
const MAX_WAVEFORM = 128;

export interface UploadedFile {
  ownerId: string;
  kind: MediaKind;
  /** Where the complete upload is staged; the caller removes it afterwards. */
  path: string;
  fileName: string;
}

/** What a typed send stores: the completed content, its fallback line and the media it carries. */
export interface CompletedContent {
  content: MessageContent;
  text: string;
  mediaIds: string[];
}

export class MediaService {
  /** Custom content types the deployment accepts; undefined: any well-formed name. */
  private readonly customTypes: ReadonlySet<string> | undefined;

  constructor(
    private readonly store: Store,
    private readonly blobs: MediaStore,
    readonly limits: MediaLimits,
    private readonly urlSecret: string,
    options: { customTypes?: readonly string[] } = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.customTypes = options.customTypes === undefined ? undefined : new Set(options.customTypes);
  }

  /** The size limit of a kind of upload. */
  maxBytes(kind: MediaKind): number {
    switch (kind) {
      case 'image':
        return this.limits.maxImageBytes;
      case 'file':
        return this.limits.maxFileBytes;
      case 'voice':
        return this.limits.maxVoiceBytes;
      case 'video':
        return this.limits.maxVideoBytes;
    }
  }

  /** Checked when an upload starts, before any byte arrives: the declared size against the kind's limit and the quota. */
  async checkNewUpload(ownerId: string, kind: MediaKind, size: number): Promise<void> {
    this.checkSize(kind, size);
    const used = await this.store.mediaUsage(ownerId);
    if (used + size > this.limits.quotaBytesPerUser) {
      throw new ParleyError('LIMIT_EXCEEDED', `this upload would pass the media quota of ${this.limits.quotaBytesPerUser} bytes (${used} used)`);
    }
  }

  private checkSize(kind: MediaKind, size: number): void {
    const max = this.maxBytes(kind);
    if (size > max) throw new ParleyError('TOO_LARGE', `a ${kind} may have at most ${max} bytes`);
  }

  /** The owner's earlier upload of these bytes as this kind, if any: a client that hashed its file skips uploading it again. */
  findOwn(ownerId: string, kind: MediaKind, sha256: string): Promise<MediaRow | undefined> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ParleyError('INVALID_ARGUMENT', 'sha256 must be 64 lowercase hex digits');
    return this.store.findOwnMedia(ownerId, sha256, kind);
  }

  /** Turns a complete upload into stored media: sniffed, checked, processed, stored once. */
  async accept(upload: UploadedFile): Promise<MediaRow> {
    const sniffed = await sniffFile(upload.path);
    const mimeType = checkTypeFits(upload.kind, sniffed.mimeType);
    this.checkSize(upload.kind, sniffed.size);
    const existing = await this.store.findOwnMedia(upload.ownerId, sniffed.sha256, upload.kind);
    if (existing !== undefined) return existing;
    await this.checkNewUpload(upload.ownerId, upload.kind, sniffed.size);

    const row: MediaRow = {
      id: randomBytes(16).toString('hex'),
      ownerId: upload.ownerId,
      kind: upload.kind,
      blobKey: sniffed.sha256,
      mimeType,
      size: sniffed.size,
      fileName: cleanFileName(upload.fileName),
      width: 0,
      height: 0,
      durationMs: 0,
      animated: false,
      variants: [],
      createdAt: this.clock.now(),
    };
    if (upload.kind === 'image') {
      const image = await processImage(upload.path, mimeType, this.limits.maxImagePixels);
      Object.assign(row, { width: image.width, height: image.height, animated: image.animated, thumbhash: image.thumbhash, size: image.original.bytes.length });
      await this.putBytes(row.blobKey, image.original.bytes, image.original.mimeType);
      await this.putBytes(`${row.blobKey}.medium`, image.medium.bytes, image.medium.mimeType);
      row.variants.push('medium');
      if (image.poster !== undefined) {
        await this.putBytes(`${row.blobKey}.poster`, image.poster.bytes, image.poster.mimeType);
        row.variants.push('poster');
      }
    } else {
      if (upload.kind === 'video' || upload.kind === 'voice') {
        // What the container says, where it says it (MP4, MOV, M4A); a damaged header is no reason to refuse the upload.
        const facts = await probeContainer(upload.path).catch(() => undefined);
        if (facts !== undefined) Object.assign(row, facts);
      }
      // From the staged file: never whole in memory, and on disk copied by the kernel. The
      // same bytes uploaded before (by anyone) are already there: the put keeps them.
      await this.blobs.put(row.blobKey, { path: upload.path }, { size: sniffed.size, contentType: mimeType });
    }
    await this.store.write((tx) => tx.insertMedia(row));
    return row;
  }

  /** An object that exists already (the same upload's sizes, made before) is kept by the put itself. */
  private putBytes(key: string, bytes: Buffer, contentType: string): Promise<void> {
    return this.blobs.put(key, Readable.from([bytes]), { size: bytes.length, contentType });
  }

  /**
   * Validates a typed send's content and completes it from the stored media.
   * Runs before the send's write unit: media rows never change once stored.
   */
  async completeContent(senderId: string, content: MessageContent, text: string | undefined, maxDataBytes: number): Promise<CompletedContent> {
    const kind = content.kind;
    if (kind === undefined) throw new ParleyError('INVALID_ARGUMENT', 'content has no kind');
    const mediaIds: string[] = [];
    const media = async (ref: MediaRef | undefined, expected: MediaKind): Promise<{ ref: MediaRef; row: MediaRow }> => {
      const row = await this.attachable(senderId, ref?.mediaId);
      if (!fitsKind(expected, row)) throw new ParleyError('INVALID_ARGUMENT', `media ${row.id} is ${row.mimeType}, not a ${expected}`);
      mediaIds.push(row.id);
      const fileName = ref?.fileName ? cleanFileName(ref.fileName) : row.fileName;
      return { ref: { mediaId: row.id, mimeType: row.mimeType, size: row.size, fileName }, row };
    };
    let completed: MessageContent;
    switch (kind.$case) {
      case 'image': {
        const { ref, row } = await media(kind.value.media, 'image');
        completed = {
          kind: {
            $case: 'image',
            value: { media: ref, width: row.width, height: row.height, thumbhash: row.thumbhash ?? new Uint8Array(), animated: row.animated, caption: caption(kind.value.caption) },
          },
        };
        break;
      }
      case 'file': {
        const { ref } = await media(kind.value.media, 'file');
        completed = { kind: { $case: 'file', value: { media: ref, caption: caption(kind.value.caption) } } };
        break;
      }
      case 'voice': {
        const { ref, row } = await media(kind.value.media, 'voice');
        if (kind.value.waveform.length > MAX_WAVEFORM) throw new ParleyError('TOO_LARGE', `a waveform has at most ${MAX_WAVEFORM} samples`);
        const durationMs = row.durationMs || kind.value.durationMs;
        completed = { kind: { $case: 'voice', value: { media: ref, durationMs, waveform: kind.value.waveform } } };
        break;
      }
      case 'video': {
        const { ref, row } = await media(kind.value.media, 'video');
        let thumbhash: Uint8Array = new Uint8Array();
        let posterMediaId = '';
        if (kind.value.posterMediaId !== '') {
          const poster = await this.attachable(senderId, kind.value.posterMediaId);
          if (poster.kind !== 'image') throw new ParleyError('INVALID_ARGUMENT', 'a video poster must be an uploaded image');
          mediaIds.push(poster.id);
          posterMediaId = poster.id;
          thumbhash = poster.thumbhash ?? thumbhash;
        }
        // The container's figures where it had them; else the sender's (from its recorder or player).
        const [width, height] = row.width > 0 && row.height > 0 ? [row.width, row.height] : [kind.value.width, kind.value.height];
        const durationMs = row.durationMs || kind.value.durationMs;
        completed = { kind: { $case: 'video', value: { media: ref, width, height, durationMs, posterMediaId, thumbhash, caption: caption(kind.value.caption) } } };
        break;
      }
      case 'location': {
        const { latitude, longitude } = kind.value;
        if (!(Math.abs(latitude) <= 90) || !(Math.abs(longitude) <= 180)) throw new ParleyError('INVALID_ARGUMENT', 'latitude must be within ±90 and longitude within ±180');
        completed = { kind: { $case: 'location', value: { latitude, longitude, name: bounded(kind.value.name, 'name', 256), address: bounded(kind.value.address, 'address', 512) } } };
        break;
      }
      case 'custom': {
        const type = kind.value.type;
        if (!CUSTOM_TYPE_PATTERN.test(type)) throw new ParleyError('INVALID_ARGUMENT', 'custom type must be 1-64 characters of a-z 0-9 . _ - starting with a letter');
        if (this.customTypes !== undefined && !this.customTypes.has(type)) throw new ParleyError('INVALID_ARGUMENT', `custom type ${type} is not registered on this server`);
        if (Buffer.byteLength(kind.value.json) > maxDataBytes) throw new ParleyError('TOO_LARGE', `custom json is larger than ${maxDataBytes} bytes`);
        let parsed: unknown;
        try {
          parsed = JSON.parse(kind.value.json);
        } catch {
          throw new ParleyError('INVALID_ARGUMENT', 'custom json is not valid JSON');
        }
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ParleyError('INVALID_ARGUMENT', 'custom json must be a JSON object');
        completed = { kind: { $case: 'custom', value: { type, json: kind.value.json } } };
        break;
      }
    }
    // The sender's own fallback (for custom kinds: "update the app to open this red packet") wins.
    const fallback = text !== undefined && text.trim() !== '' ? text : fallbackText(completed);
    return { content: completed, text: fallback, mediaIds };
  }

  /** Records, inside the send's unit, that the stored message carries its media. */
  async recordReferences(tx: StoreTx, mediaIds: readonly string[], reference: MediaReference): Promise<void> {
    for (const mediaId of new Set(mediaIds)) await tx.insertMediaReference(mediaId, reference);
  }

  /** Media the sender may put in a message: its own, or media it can read. */
  private async attachable(senderId: string, mediaId: string | undefined): Promise<MediaRow> {
    if (mediaId === undefined || mediaId === '') throw new ParleyError('INVALID_ARGUMENT', 'media.mediaId is required');
    const row = await this.store.getMedia(mediaId);
    if (row === undefined || !(await this.mayRead(senderId, row))) throw new ParleyError('NOT_FOUND', `unknown media ${mediaId}`);
    return row;
  }

  /**
   * The media item if `userId` may fetch it. Unknown and forbidden media
   * both answer NOT_FOUND: an id says nothing about whether it exists.
   */
  async authorise(userId: string, mediaId: string): Promise<MediaRow> {
    const row = await this.getMedia(mediaId);
    if (row === undefined || !(await this.mayRead(userId, row))) throw new ParleyError('NOT_FOUND', 'no such media');
    return row;
  }

  private async mayRead(userId: string, row: MediaRow): Promise<boolean> {
    if (row.ownerId === userId) return true;
    for (const reference of await this.store.mediaReferences(row.id, MAX_REFERENCES_CHECKED)) {
      if (await mayReadMessage(this.store, userId, reference)) return true;
    }
    return false;
  }

  /** The bytes of one size of a media item, or a range of them. */
  async open(row: MediaRow, size: MediaSize, range?: { start: number; end: number }): Promise<Readable> {
    return this.blobs.read(blobKeyOf(row, size), range);
  }

  /** Stored byte length and type of one size; NOT_FOUND when the item has no such size. */
  async describe(row: MediaRow, size: MediaSize): Promise<{ length: number; mimeType: string; key: string }> {
    if (size !== 'original' && !row.variants.includes(size)) throw new ParleyError('NOT_FOUND', `this media has no ${size} size`);
    if (size === 'original') return { length: row.size, mimeType: row.mimeType, key: row.blobKey };
    const info = await this.blobs.stat(blobKeyOf(row, size));
    if (info === undefined) throw new ParleyError('NOT_FOUND', 'no such media');
    return { length: info.size, mimeType: 'image/webp', key: blobKeyOf(row, size) };
  }

  /** A signature for fetching one size of one media item until `expiresAt` (seconds since the epoch). */
  sign(mediaId: string, size: MediaSize, expiresAt: number): string {
    return createHmac('sha256', this.urlSecret).update(`${mediaId}/${size}/${expiresAt}`).digest('base64url');
  }

  /** A fresh expiry for a signed URL, in seconds since the epoch. */
  signedUrlExpiry(): number {
    return Math.floor(this.clock.now() / 1000) + this.limits.signedUrlSeconds;
  }

  /** True when the signature is this server's for that item, size and expiry, and the expiry has not passed. */
  verifySignature(mediaId: string, size: MediaSize, expiresAt: number, signature: string): boolean {
    if (!Number.isSafeInteger(expiresAt) || expiresAt * 1000 < this.clock.now()) return false;
    const expected = Buffer.from(this.sign(mediaId, size, expiresAt));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /** The media item, unchecked; undefined for an id that cannot be one (not 32 hex digits) or is unknown. */
  async getMedia(mediaId: string): Promise<MediaRow | undefined> {
    return /^[0-9a-f]{32}$/.test(mediaId) ? this.store.getMedia(mediaId) : undefined;
  }
}

function blobKeyOf(row: MediaRow, size: MediaSize): string {
  return size === 'original' ? row.blobKey : `${row.blobKey}.${size}`;
}

/** Whether the user may read the message at `reference`, by the rules messages are read by. */
async function mayReadMessage(reader: StoreReader, userId: string, reference: MediaReference): Promise<boolean> {
  const member = await reader.getMember(reference.conversationId, userId);
  if (member === undefined || reference.seq < member.firstSeq || inAbsence(member, reference.seq)) return false;
  const conversation = await reader.getConversation(reference.conversationId);
  if (conversation === undefined || reference.seq > readableEnd(member, conversation)) return false;
  const visible = await reader.listMessages({ conversationId: reference.conversationId, fromSeq: reference.seq, toSeq: reference.seq, visibleTo: userId, limit: 1 });
  return visible.length === 1;
}

/** A media kind named by a client (upload metadata, a lookup), or INVALID_ARGUMENT naming the field. */
export function requireMediaKind(value: string | null | undefined, field: string): MediaKind {
  if (!(MEDIA_KINDS as readonly string[]).includes(value ?? '')) throw new ParleyError('INVALID_ARGUMENT', `${field} must be one of ${MEDIA_KINDS.join(', ')}`);
  return value as MediaKind;
}

/** The stored type of an upload of `kind`, or UNSUPPORTED when the bytes are not of that kind. */
function checkTypeFits(kind: MediaKind, sniffed: string): string {
  const fits =
    kind === 'file' ||
    (kind === 'image' && IMAGE_TYPES.has(sniffed)) ||
    (kind === 'video' && sniffed.startsWith('video/')) ||
    // Browsers record voice as WebM or MP4 audio, which sniffs as video/webm or video/mp4.
    (kind === 'voice' && (sniffed.startsWith('audio/') || sniffed === 'video/webm' || sniffed === 'video/mp4'));
  if (!fits) throw new ParleyError('INVALID_ARGUMENT', `the bytes are ${sniffed === 'application/octet-stream' ? 'of no known type' : sniffed}, not a ${kind}`);
  return sniffed;
}

function fitsKind(expected: MediaKind, row: MediaRow): boolean {
  // A file may carry anything; the media kinds need media of their kind.
  return expected === 'file' || row.kind === expected;
}

function cleanFileName(name: string): string {
  // No path, no control characters: it is shown, never used as a path.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const base = (name.split(/[\\/]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return [...base].slice(0, MAX_FILE_NAME).join('');
}

function caption(value: string): string {
  return bounded(value, 'caption', MAX_CAPTION);
}

function bounded(value: string, field: string, max: number): string {
  if (value.length > max) throw new ParleyError('TOO_LARGE', `${field} is longer than ${max} characters`);
  return value;
}
