/**
 * The JSON the media channel answers with (docs/media.md): what an upload
 * stored, as the last tus PATCH, `GET /media/lookup` and `GET /media/:id`
 * describe it. Shared by the server that writes it and the SDK that reads it.
 */
import type { MediaKind } from './content.js';

export interface MediaInfoJson {
  mediaId: string;
  kind: MediaKind;
  /** Sniffed from the bytes. */
  mimeType: string;
  size: number;
  fileName: string;
  width: number;
  height: number;
  /** Base64 ThumbHash; '' when none. */
  thumbhash: string;
  animated: boolean;
  /** The sizes that can be fetched: 'original', and 'medium' / 'poster' where made. */
  sizes: Array<'original' | 'medium' | 'poster'>;
}

/** `GET /media/:id`: the item and signed URLs (paths on the server) of its sizes. */
export interface MediaUrlsJson extends MediaInfoJson {
  urls: Partial<Record<'original' | 'medium' | 'poster', string>>;
  /** Milliseconds since the epoch. */
  urlsExpireAt: number;
}
