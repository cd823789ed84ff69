/**
 * The SDK's calls to the server's REST API (media, push settings): the
 * user's token as a bearer, and the server's error envelope turned into a
 * ParleyError with the same name the WebSocket protocol would give.
 */
import { type ErrorName, ParleyError, allErrors } from '@parley/protocol';

const ERROR_NAMES = new Set<string>(allErrors().map((info) => info.name));

/** The server's `{ error: { name, message } }` as a ParleyError. */
export function errorFromBody(status: number, body: string): ParleyError {
  try {
    const parsed = JSON.parse(body) as { error?: { name?: string; message?: string; retryAfterMs?: number } };
    const name = parsed.error?.name;
    const retryAfterMs = parsed.error?.retryAfterMs;
    if (name !== undefined && ERROR_NAMES.has(name)) {
      return new ParleyError(name as ErrorName, parsed.error?.message, typeof retryAfterMs === 'number' ? { retryAfterMs } : undefined);
    }
  } catch {
    // Not ours (a proxy's page): classified by status below.
  }
  return new ParleyError(status >= 500 || status === 0 ? 'UNAVAILABLE' : 'INVALID_ARGUMENT', `HTTP ${status}`);
}

export async function responseError(response: Response): Promise<ParleyError> {
  return errorFromBody(response.status, await response.text().catch(() => ''));
}

export interface RestOptions {
  /** The server's HTTP URL; undefined when the client could not derive it and was given none. */
  httpUrl: string | undefined;
  token: () => Promise<string>;
}

export class RestApi {
  constructor(
    private readonly options: RestOptions,
    /** What needs the URL, for the error when it is missing. */
    private readonly what: string,
  ) {}

  get base(): string {
    if (this.options.httpUrl === undefined) throw new ParleyError('INVALID_ARGUMENT', `${this.what} needs the server's HTTP URL: pass options.httpUrl`);
    return this.options.httpUrl.replace(/\/+$/, '');
  }

  async authorised(): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.options.token()}` };
  }

  /** A JSON request under /v1; resolves with the parsed body, or undefined for 204. */
  async call<T>(method: 'GET' | 'PUT' | 'DELETE' | 'POST', path: string, body?: unknown): Promise<T | undefined> {
    const headers = await this.authorised();
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (cause) {
      throw new ParleyError('UNAVAILABLE', `the server did not answer: ${(cause as Error).message}`, { cause });
    }
    if (!response.ok) throw await responseError(response);
    if (response.status === 204) return undefined;
    return (await response.json()) as T;
  }
}
