/**
 * The media channel: uploads and downloads over HTTP, beside the message
 * connection, so that a photo never holds up a text (docs/media.md).
 *
 * - `/media/uploads`: the tus resumable-upload protocol (@tus/server),
 *   staged on disk under the data folder. A broken upload continues where it
 *   stopped; the last PATCH answers with the stored media as JSON.
 * - `GET /media/lookup?kind=&sha256=`: the caller's earlier upload of the
 *   same bytes, so a retried send uploads nothing twice.
 * - `GET /media/:id`: what the item is, with short-lived signed URLs of its
 *   sizes for `<img>` and `<video>` tags.
 * - `GET /media/:id/:size` (original, medium, poster): the bytes, with
 *   `Range` (206), `ETag` and `Cache-Control`; authorised by a bearer token
 *   or a signature from `GET /media/:id`.
 *
 * Every request names its user by `Authorization: Bearer <access token>`,
 * the token the WebSocket hello takes. Someone else's media answers 404
 * exactly like media that does not exist.
 */
import { join } from 'node:path';
import { FileStore } from '@tus/file-store';
import { EVENTS, Server as TusServer, type Upload } from '@tus/server';
import { MEDIA_KINDS, type MediaInfoJson, type MediaKind, type MediaUrlsJson, ParleyError, errorInfo } from '@parley/protocol';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService } from '../services/auth.js';
import { MEDIA_SIZES, type MediaService, type MediaSize, requireMediaKind } from '../services/media.js';
import type { MediaRow } from '../services/model.js';
import { HttpStatusError, bearerOf } from './conventions.js';
import { USER_TOKEN } from './openapi.js';

export const MEDIA_PREFIX = '/media';
const UPLOADS_PATH = `${MEDIA_PREFIX}/uploads`;
/** Unfinished uploads are dropped after this long without being completed. */
const UPLOAD_EXPIRY_MS = 24 * 60 * 60 * 1000;
const CLEANUP_INTERVAL_MS = 60 * 60 * 1000;

export interface MediaApiDeps {
  auth: AuthService;
  media: MediaService;
  /** Where unfinished uploads are staged. */
  stagingDir: string;
}

function mediaInfo(row: MediaRow): MediaInfoJson {
  return {
    mediaId: row.id,
    kind: row.kind,
    mimeType: row.mimeType,
    size: row.size,
    fileName: row.fileName,
    width: row.width,
    height: row.height,
    thumbhash: row.thumbhash === undefined ? '' : Buffer.from(row.thumbhash).toString('base64'),
    animated: row.animated,
    sizes: ['original', ...(row.variants as MediaSize[])],
  };
}

/** A tus hook's way of answering with an error: our JSON error shape and status. */
function tusError(error: unknown, log?: FastifyBaseLogger): { status_code: number; body: string } {
  const parley = error instanceof ParleyError ? error : new ParleyError('INTERNAL', 'upload failed', { cause: error });
  if (parley.codeName === 'INTERNAL') log?.error({ err: parley.cause ?? parley }, 'upload failed');
  const info = errorInfo(parley.code);
  return { status_code: info.httpStatus, body: JSON.stringify({ error: { code: parley.code, name: info.name, message: parley.message } }) };
}

export function registerMediaApi(app: FastifyInstance, deps: MediaApiDeps): { close(): void } {
  const { auth, media } = deps;
  const datastore = new FileStore({ directory: deps.stagingDir, expirationPeriodInMilliseconds: UPLOAD_EXPIRY_MS });
  /** The user each upload request was authenticated as. */
  const userOf = new WeakMap<Request, string>();
  /**
   * Each user's unfinished uploads on this node: every one holds staging
   * space until it finishes, is cancelled or expires, so their number is
   * bounded (maxUnfinishedUploadsPerUser).
   */
  const unfinished = new Map<string, Set<string>>();
  const settle = (userId: string, uploadId: string) => {
    const uploads = unfinished.get(userId);
    uploads?.delete(uploadId);
    if (uploads?.size === 0) unfinished.delete(userId);
  };

  const tus = new TusServer({
    path: UPLOADS_PATH,
    datastore,
    relativeLocation: true,
    maxSize: Math.max(...MEDIA_KINDS.map((kind) => media.maxBytes(kind))),
    // Random 128-bit ids, never from the client.
    namingFunction: () => crypto.randomUUID().replaceAll('-', ''),
    async onIncomingRequest(request, uploadId) {
      let userId: string;
      try {
        userId = (await auth.verifyToken(bearerOf(request.headers.get('authorization')))).userId;
      } catch (error) {
        throw tusError(error);
      }
      userOf.set(request, userId);
      if (request.method === 'POST' || request.method === 'OPTIONS' || uploadId === '') return;
      // Somebody else's upload is as unknown as one that never existed.
      const upload = await datastore.getUpload(uploadId).catch(() => undefined);
      if (upload === undefined || upload.metadata?.owner !== userId) throw tusError(new ParleyError('NOT_FOUND', 'no such upload'));
    },
    async onUploadCreate(request, upload) {
      const userId = userOf.get(request) ?? '';
      try {
        const kind = requireMediaKind(upload.metadata?.kind, 'metadata "kind"');
        if (upload.size === undefined) throw new ParleyError('INVALID_ARGUMENT', 'Upload-Length is required (deferred lengths are not accepted)');
        await media.checkNewUpload(userId, kind, upload.size);
        const uploads = unfinished.get(userId) ?? new Set<string>();
        if (uploads.size >= media.limits.maxUnfinishedUploadsPerUser) {
          throw new ParleyError('LIMIT_EXCEEDED', `at most ${media.limits.maxUnfinishedUploadsPerUser} unfinished uploads at once: finish or cancel (DELETE) one first`);
        }
        unfinished.set(userId, uploads.add(upload.id));
      } catch (error) {
        throw tusError(error);
      }
      // The owner is the authenticated user, whatever the client put there.
      return { metadata: { ...upload.metadata, owner: userId } };
    },
    async onUploadFinish(request, upload: Upload) {
      const ownerId = userOf.get(request) ?? '';
      try {
        const row = await media.accept({
          ownerId,
          kind: upload.metadata?.kind as MediaKind,
          path: join(deps.stagingDir, upload.id),
          fileName: upload.metadata?.filename ?? upload.metadata?.name ?? '',
        });
        return { status_code: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(mediaInfo(row)) };
      } catch (error) {
        throw tusError(error, app.log);
      } finally {
        // Stored or refused: the staged bytes are not needed again.
        await datastore.remove(upload.id).catch(() => undefined);
        settle(ownerId, upload.id);
      }
    },
  });

  tus.on(EVENTS.POST_TERMINATE, (request: Request, _response: Response, uploadId: string) => settle(userOf.get(request) ?? '', uploadId));
  const cleanup = setInterval(async () => {
    await tus.cleanUpExpiredUploads().catch(() => undefined);
    // Expired uploads are gone from the staging folder: they no longer count.
    for (const [userId, uploads] of unfinished) {
      for (const uploadId of uploads) if ((await datastore.getUpload(uploadId).catch(() => undefined)) === undefined) settle(userId, uploadId);
    }
  }, CLEANUP_INTERVAL_MS);
  cleanup.unref();

  app.register(async (scope) => {
    // Upload bodies go to tus unread: no parser may consume them.
    scope.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null, undefined));
    const handOver = (request: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      void tus.handle(request.raw, reply.raw);
    };
    for (const url of [UPLOADS_PATH, `${UPLOADS_PATH}/:uploadId`]) {
      scope.route({
        method: ['POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS'],
        url,
        exposeHeadRoute: false,
        schema: { summary: 'A resumable upload (the tus protocol: byte streams, not JSON)', tags: ['media'], security: USER_TOKEN },
        handler: handOver,
      });
    }
  });

  const userFrom = async (request: FastifyRequest): Promise<string> => (await auth.verifyToken(bearerOf(request.headers.authorization))).userId;

  app.get<{ Querystring: { kind?: string; sha256?: string } }>(
    `${MEDIA_PREFIX}/lookup`,
    {
      schema: {
        summary: "The caller's earlier upload of the same bytes",
        tags: ['media'],
        security: USER_TOKEN,
        querystring: {
          type: 'object',
          properties: { kind: { type: 'string', description: MEDIA_KINDS.join(', ') }, sha256: { type: 'string', description: 'SHA-256 of the bytes, 64 lowercase hex digits' } },
        },
      },
    },
    async (request) => {
      const userId = await userFrom(request);
      const row = await media.findOwn(userId, requireMediaKind(request.query.kind, 'kind'), request.query.sha256 ?? '');
      if (row === undefined) throw new ParleyError('NOT_FOUND', 'no upload of these bytes');
      return mediaInfo(row);
    },
  );

  app.get<{ Params: { id: string } }>(
    `${MEDIA_PREFIX}/:id`,
    { schema: { summary: 'What a media item is, with short-lived signed links to its sizes', tags: ['media'], security: USER_TOKEN } },
    async (request): Promise<MediaUrlsJson> => {
      const info = mediaInfo(await media.authorise(await userFrom(request), request.params.id));
      const expiresAt = media.signedUrlExpiry();
      const urls: MediaUrlsJson['urls'] = {};
      for (const size of info.sizes) urls[size] = `${MEDIA_PREFIX}/${info.mediaId}/${size}?exp=${expiresAt}&sig=${media.sign(info.mediaId, size, expiresAt)}`;
      return { ...info, urls, urlsExpireAt: expiresAt * 1000 };
    },
  );

  app.get<{ Params: { id: string; size: string }; Querystring: { exp?: string; sig?: string } }>(
    `${MEDIA_PREFIX}/:id/:size`,
    // A user's token, or none with a signed link from GET /media/:id.
    {
      schema: {
        summary: 'The bytes of one size of a media item, with ranges',
        tags: ['media'],
        security: [...USER_TOKEN, {}],
        params: { type: 'object', properties: { id: { type: 'string' }, size: { type: 'string', description: MEDIA_SIZES.join(', ') } } },
        querystring: { type: 'object', properties: { exp: { type: 'string' }, sig: { type: 'string', description: 'with exp: a signed link from GET /media/:id' } } },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const size = request.params.size as MediaSize;
      if (!(MEDIA_SIZES as readonly string[]).includes(size)) throw new ParleyError('NOT_FOUND', `no size ${request.params.size}; sizes: ${MEDIA_SIZES.join(', ')}`);
      let row: MediaRow | undefined;
      if (request.query.sig !== undefined) {
        const expiresAt = Number(request.query.exp);
        if (!media.verifySignature(id, size, expiresAt, request.query.sig)) throw new ParleyError('FORBIDDEN', 'the link expired or is not valid: ask GET /media/:id for a new one');
        row = await media.getMedia(id);
        if (row === undefined) throw new ParleyError('NOT_FOUND', 'no such media');
      } else {
        row = await media.authorise(await userFrom(request), id);
      }
      const object = await media.describe(row, size);
      const etag = `"${object.key}"`;
      reply.header('etag', etag);
      // Content-addressed: the bytes under this URL never change.
      reply.header('cache-control', 'private, max-age=31536000, immutable');
      reply.header('accept-ranges', 'bytes');
      reply.header('x-content-type-options', 'nosniff');
      reply.header('content-security-policy', "default-src 'none'; sandbox");
      if (size === 'original') {
        // Files download under their name; media shows in the page.
        const name = row.fileName === '' ? '' : `; filename*=UTF-8''${encodeURIComponent(row.fileName)}`;
        reply.header('content-disposition', `${row.kind === 'file' ? 'attachment' : 'inline'}${name}`);
      }
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();

      const ifRange = request.headers['if-range'];
      const range = ifRange === undefined || ifRange === etag ? parseRange(request.headers.range, object.length) : undefined;
      if (range === 'unsatisfiable') {
        throw new HttpStatusError(416, `the range is outside the ${object.length} bytes`, { 'content-range': `bytes */${object.length}` });
      }
      // Sniffed at upload (never the client's word), and nosniff above: no upload is ever served as a page.
      reply.type(object.mimeType);
      if (range === undefined) {
        reply.header('content-length', object.length);
        return reply.send(request.method === 'HEAD' ? undefined : await media.open(row, size));
      }
      reply.code(206);
      reply.header('content-range', `bytes ${range.start}-${range.end}/${object.length}`);
      reply.header('content-length', range.end - range.start + 1);
      return reply.send(request.method === 'HEAD' ? undefined : await media.open(row, size, range));
    },
  );

  return { close: () => clearInterval(cleanup) };
}

/**
 * One byte range of an HTTP Range header ("bytes=0-999", "bytes=500-",
 * "bytes=-500"), clipped to the length. Several ranges, or a header that is
 * not a byte range, are answered with the whole object (RFC 9110 allows it).
 */
export function parseRange(header: string | undefined, length: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || length === 0) return 'unsatisfiable';
    return { start: Math.max(0, length - suffix), end: length - 1 };
  }
  const start = Number(first);
  if (start >= length) return 'unsatisfiable';
  const end = last === '' ? length - 1 : Math.min(Number(last), length - 1);
  if (end < start) return undefined;
  return { start, end };
}
