/**
 * The user directory: how people find each other. Signed-in users look up
 * display names by id and search by id or name as far as the deployment
 * allows (`UserDirectoryMode`); the admin API lists every user, page by page.
 * The store only matches text; the policy and the ranking live here.
 */
import { ParleyError } from '@parley/protocol';
import type { Store, UserRow } from '../store/store.js';

/**
 * What a signed-in user may find:
 * - `open`: anyone, by part of their id or name (a team or a community);
 * - `exact`: only the user whose id they type in full (a marketplace, where
 *   strangers must not be browsable but a shared id must still work);
 * - `off`: nobody; ids are learnt elsewhere (the embedding product's own UI).
 */
export type UserDirectoryMode = 'open' | 'exact' | 'off';

export const USER_DIRECTORY_MODES: readonly UserDirectoryMode[] = ['open', 'exact', 'off'];

export interface UserProfile {
  id: string;
  name: string;
}

/** Bounds of one lookup or search. */
export const DIRECTORY_LIMITS = {
  /** Most ids one lookup resolves. */
  maxLookupIds: 100,
  /** Longest query, in characters. */
  maxQueryChars: 64,
  /** Results a search returns when it does not say. */
  defaultSearchLimit: 20,
  /** Most results one user search returns. */
  maxSearchLimit: 50,
  /** Most users one admin listing page returns. */
  maxListLimit: 200,
  /** Matches a user search ranks; the best of them are returned. */
  searchCandidates: 200,
} as const;

export class UserDirectory {
  constructor(
    private readonly store: Store,
    readonly mode: UserDirectoryMode,
  ) {}

  /**
   * Display names for ids; unknown ids are left out. Allowed in every mode:
   * a client only asks for ids it has met (senders, members, a peer it was
   * given), and naming them is what makes a conversation readable.
   */
  async lookup(userIds: readonly string[]): Promise<UserProfile[]> {
    if (userIds.length > DIRECTORY_LIMITS.maxLookupIds) {
      throw new ParleyError('LIMIT_EXCEEDED', `userIds holds at most ${DIRECTORY_LIMITS.maxLookupIds} ids`);
    }
    const users = await this.store.getUsers(userIds);
    return users.map(profileOf);
  }

  /**
   * A signed-in user's search, within the mode. Ranked: the id itself (ignoring
   * case), ids starting with the query, names with a word starting with it,
   * then other matches; ties by id. The ranking looks at the first
   * `searchCandidates` matches by id, which bounds the cost of a short query
   * in a large directory.
   */
  async search(query: string, limit: number): Promise<UserProfile[]> {
    if (this.mode === 'off') throw new ParleyError('FORBIDDEN', 'this server does not let users search its directory');
    const text = normaliseQuery(query);
    const wanted = clampLimit(limit, DIRECTORY_LIMITS.defaultSearchLimit, DIRECTORY_LIMITS.maxSearchLimit);
    if (this.mode === 'exact') {
      const exact = await this.store.getUser(text);
      return exact === undefined ? [] : [profileOf(exact)];
    }
    const candidates = await this.store.searchUsers({ text, limit: DIRECTORY_LIMITS.searchCandidates });
    const lowered = text.toLowerCase();
    return candidates
      .map((user) => ({ user, rank: rankOf(user, lowered) }))
      .sort((a, b) => a.rank - b.rank || (a.user.id < b.user.id ? -1 : a.user.id > b.user.id ? 1 : 0))
      .slice(0, wanted)
      .map(({ user }) => profileOf(user));
  }

  /**
   * The admin API's listing: every user whose id or name contains `query`
   * (all users when it is empty), ordered by id; `nextAfter` continues it.
   */
  async list(query: string, limit: number, afterId?: string): Promise<{ users: UserRow[]; nextAfter: string | undefined }> {
    const text = query.trim();
    if (text.length > DIRECTORY_LIMITS.maxQueryChars) {
      throw new ParleyError('INVALID_ARGUMENT', `query is longer than ${DIRECTORY_LIMITS.maxQueryChars} characters`);
    }
    const wanted = clampLimit(limit, 50, DIRECTORY_LIMITS.maxListLimit);
    const page = await this.store.searchUsers({ text, limit: wanted + 1, afterId });
    const users = page.slice(0, wanted);
    return { users, nextAfter: page.length > wanted ? users[users.length - 1]?.id : undefined };
  }
}

function rankOf(user: UserRow, loweredQuery: string): number {
  const id = user.id.toLowerCase();
  if (id === loweredQuery) return 0;
  if (id.startsWith(loweredQuery)) return 1;
  const name = user.name.toLowerCase();
  if (name.startsWith(loweredQuery) || name.split(/\s+/).some((word) => word.startsWith(loweredQuery))) return 2;
  return 3;
}

function profileOf(user: UserRow): UserProfile {
  return { id: user.id, name: user.name };
}

function normaliseQuery(query: string): string {
  const text = query.trim();
  if (text.length === 0) throw new ParleyError('INVALID_ARGUMENT', 'query must not be empty');
  if (text.length > DIRECTORY_LIMITS.maxQueryChars) {
    throw new ParleyError('INVALID_ARGUMENT', `query is longer than ${DIRECTORY_LIMITS.maxQueryChars} characters`);
  }
  return text;
}

function clampLimit(limit: number, fallback: number, max: number): number {
  if (limit <= 0) return fallback;
  return Math.min(limit, max);
}
