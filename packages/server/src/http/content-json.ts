/**
 * Typed message content in the REST API's JSON: the same shape as the SDK's
 * `Content` (keyed on `type`, bytes as base64), so that an integration reads
 * and writes what an app sees. The schema bounds the shape; what is allowed
 * (media the sender may attach, custom types, ranges) is the domain's to say.
 */
import type { MediaRef, MessageContent } from '@parley/protocol';
import { decodeBase64Field } from './base64.js';

const TEXT = { type: 'string', maxLength: 1024 } as const;
const WHOLE = { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 } as const;

/** Request body schema of `content`. */
export const CONTENT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { type: 'string', enum: ['image', 'file', 'voice', 'video', 'location', 'custom'] },
    mediaId: { type: 'string', maxLength: 64 },
    caption: TEXT,
    fileName: { type: 'string', maxLength: 255 },
    durationMs: WHOLE,
    width: WHOLE,
    height: WHOLE,
    posterMediaId: { type: 'string', maxLength: 64 },
    waveform: { type: 'string', maxLength: 176, description: 'base64 of up to 128 bytes' },
    latitude: { type: 'number' },
    longitude: { type: 'number' },
    name: { type: 'string', maxLength: 256 },
    address: { type: 'string', maxLength: 512 },
    customType: { type: 'string', maxLength: 64 },
    data: { type: 'object' },
  },
} as const;

/** The body's `content`, as the fields CONTENT_SCHEMA allows. */
export interface ContentBody {
  type: 'image' | 'file' | 'voice' | 'video' | 'location' | 'custom';
  mediaId?: string;
  caption?: string;
  fileName?: string;
  durationMs?: number;
  width?: number;
  height?: number;
  posterMediaId?: string;
  waveform?: string;
  latitude?: number;
  longitude?: number;
  name?: string;
  address?: string;
  customType?: string;
  data?: Record<string, unknown>;
}

function ref(body: ContentBody): MediaRef {
  return { mediaId: body.mediaId ?? '', mimeType: '', size: 0, fileName: body.fileName ?? '' };
}

export function contentFromJson(body: ContentBody): MessageContent {
  const caption = body.caption ?? '';
  switch (body.type) {
    case 'image':
      return { kind: { $case: 'image', value: { media: ref(body), width: 0, height: 0, thumbhash: new Uint8Array(), animated: false, caption } } };
    case 'file':
      return { kind: { $case: 'file', value: { media: ref(body), caption } } };
    case 'voice':
      return {
        kind: { $case: 'voice', value: { media: ref(body), durationMs: body.durationMs ?? 0, waveform: body.waveform === undefined ? new Uint8Array() : decodeBase64Field(body.waveform, 'content.waveform') } },
      };
    case 'video':
      return {
        kind: {
          $case: 'video',
          value: {
            media: ref(body),
            width: body.width ?? 0,
            height: body.height ?? 0,
            durationMs: body.durationMs ?? 0,
            posterMediaId: body.posterMediaId ?? '',
            thumbhash: new Uint8Array(),
            caption,
          },
        },
      };
    case 'location':
      return { kind: { $case: 'location', value: { latitude: body.latitude ?? Number.NaN, longitude: body.longitude ?? Number.NaN, name: body.name ?? '', address: body.address ?? '' } } };
    case 'custom':
      return { kind: { $case: 'custom', value: { type: body.customType ?? '', json: JSON.stringify(body.data ?? {}) } } };
  }
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** Stored content as the API answers it; undefined for a kind this server build does not know. */
export function contentToJson(content: MessageContent): Record<string, unknown> | undefined {
  const kind = content.kind;
  switch (kind?.$case) {
    case 'image': {
      const { media, width, height, thumbhash, animated, caption } = kind.value;
      return { type: 'image', media, width, height, thumbhash: base64(thumbhash), animated, caption };
    }
    case 'file':
      return { type: 'file', media: kind.value.media, caption: kind.value.caption };
    case 'voice':
      return { type: 'voice', media: kind.value.media, durationMs: kind.value.durationMs, waveform: base64(kind.value.waveform) };
    case 'video': {
      const { media, width, height, durationMs, posterMediaId, thumbhash, caption } = kind.value;
      return { type: 'video', media, width, height, durationMs, posterMediaId, thumbhash: base64(thumbhash), caption };
    }
    case 'location':
      return { type: 'location', ...kind.value };
    case 'custom':
      return { type: 'custom', customType: kind.value.type, data: JSON.parse(kind.value.json) as unknown };
    default:
      return undefined;
  }
}
