/**
 * Message search at the top of the conversation list: a search field, and
 * while it holds words the hits in place of the list, newest first, each
 * with its conversation, sender, time and the snippet the server cut, the
 * matched words in <mark>. Choosing a hit opens its conversation at that
 * message. Keyboard: ArrowDown moves from the field into the hits, the
 * arrows move between them, Escape clears the search; the number of hits is
 * announced.
 */
import { ParleyError, type SearchHit } from '@parley/client';
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useChat, useChatStore } from '../chat/use-chat.js';
import { listTime, nameOf } from '../format.js';
import { conversationTitle } from './conversation-list.js';

/** Typing pauses this long before the server is asked. */
const SEARCH_DELAY_MS = 250;
const PAGE_SIZE = 20;
/** The server's bound on a query (after trimming). */
const MAX_QUERY_CHARS = 128;

type Results =
  | { state: 'idle' }
  | { state: 'searching' }
  | { state: 'done'; hits: readonly SearchHit[]; nextCursor: string | undefined; loadingMore: boolean }
  | { state: 'error'; message: string };

interface MessageSearchProps {
  query: string;
  onQuery(query: string): void;
  /** A hit was chosen: open its conversation at this message. */
  onOpen(conversationId: string, seq: number): void;
}

/** The field; the hits render in SearchResults below it while the query has words. */
export function MessageSearchField({ query, onQuery }: Omit<MessageSearchProps, 'onOpen'>) {
  return (
    <search class="message-search">
      <label class="visually-hidden" for="message-search-input">
        Search messages
      </label>
      <svg class="message-search-icon" viewBox="0 0 20 20" aria-hidden="true">
        <circle cx="9" cy="9" r="5.5" fill="none" stroke="currentColor" stroke-width="1.7" />
        <path d="M13 13l4 4" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" />
      </svg>
      <input
        id="message-search-input"
        type="search"
        data-testid="message-search"
        placeholder="Search messages"
        autocomplete="off"
        spellcheck={false}
        maxLength={MAX_QUERY_CHARS}
        value={query}
        aria-controls="message-search-results"
        onInput={(event) => onQuery(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') {
            event.preventDefault();
            onQuery('');
          } else if (event.key === 'ArrowDown') {
            const first = document.querySelector<HTMLElement>('#message-search-results [data-search-hit]');
            if (first !== null) {
              event.preventDefault();
              first.focus();
            }
          }
        }}
      />
    </search>
  );
}

export function SearchResults({ query, onQuery, onOpen }: MessageSearchProps) {
  const { client } = useChatStore();
  const conversations = useChat((state) => state.conversations);
  const names = useChat((state) => state.names);
  const selfId = useChat((state) => state.self.userId);
  const [results, setResults] = useState<Results>({ state: 'idle' });
  const latestRequest = useRef(0);
  const words = query.trim();

  useEffect(() => {
    const request = ++latestRequest.current;
    if (words === '') {
      setResults({ state: 'idle' });
      return;
    }
    setResults({ state: 'searching' });
    const timer = setTimeout(() => {
      client.search.messages(words, { limit: PAGE_SIZE }).then(
        (page) => {
          if (request === latestRequest.current) setResults({ state: 'done', hits: page.hits, nextCursor: page.nextCursor, loadingMore: false });
        },
        (error: unknown) => {
          if (request === latestRequest.current) setResults({ state: 'error', message: describeSearchError(error) });
        },
      );
    }, SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [words, client]);

  const loadMore = () => {
    if (results.state !== 'done' || results.nextCursor === undefined || results.loadingMore) return;
    const request = latestRequest.current;
    setResults({ ...results, loadingMore: true });
    client.search.messages(words, { limit: PAGE_SIZE, cursor: results.nextCursor }).then(
      (page) => {
        if (request === latestRequest.current) setResults({ state: 'done', hits: [...results.hits, ...page.hits], nextCursor: page.nextCursor, loadingMore: false });
      },
      (error: unknown) => {
        if (request === latestRequest.current) setResults({ state: 'error', message: describeSearchError(error) });
      },
    );
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const hits = [...document.querySelectorAll<HTMLElement>('#message-search-results [data-search-hit]')];
    const at = hits.indexOf(document.activeElement as HTMLElement);
    if (event.key === 'Escape') {
      event.preventDefault();
      onQuery('');
      document.getElementById('message-search-input')?.focus();
    } else if (at >= 0 && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
      event.preventDefault();
      const next = at + (event.key === 'ArrowDown' ? 1 : -1);
      if (next < 0) document.getElementById('message-search-input')?.focus();
      else hits[Math.min(next, hits.length - 1)]?.focus();
    }
  };

  const status =
    results.state === 'searching'
      ? 'Searching…'
      : results.state === 'error'
        ? results.message
        : results.state === 'done'
          ? results.hits.length === 0
            ? `No messages with “${words}”`
            : `${results.hits.length}${results.nextCursor === undefined ? '' : '+'} ${results.hits.length === 1 ? 'message' : 'messages'} found`
          : '';
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: the keys move focus between the hit buttons inside
    <div class="search-results" id="message-search-results" data-testid="search-results" onKeyDown={onKeyDown}>
      <p class={`search-status${results.state === 'error' ? ' form-error' : ' muted'}`} role="status" aria-live="polite" data-testid="search-status">
        {status}
      </p>
      {results.state === 'done' && results.hits.length > 0 && (
        <ul class="search-hits" aria-label="Messages found">
          {results.hits.map((hit) => {
            const conversation = conversations.find((summary) => summary.id === hit.conversationId);
            const sender = hit.message.senderId === selfId ? 'You' : nameOf(names, hit.message.senderId);
            return (
              <li key={hit.message.id}>
                <button type="button" class="search-hit" data-search-hit data-testid="search-hit" onClick={() => onOpen(hit.conversationId, hit.message.seq)}>
                  <span class="conversation-top">
                    <span class="conversation-name" data-testid="search-hit-conversation">
                      {conversation === undefined ? hit.conversationId : conversationTitle(conversation)}
                    </span>
                    <span class="conversation-time">{listTime(hit.message.createdAt)}</span>
                  </span>
                  <span class="search-snippet" data-testid="search-hit-snippet">
                    <span class="search-sender">{sender}: </span>
                    {highlighted(hit)}
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {results.state === 'done' && results.nextCursor !== undefined && (
        <button type="button" class="button small search-more" onClick={loadMore} disabled={results.loadingMore}>
          {results.loadingMore ? 'Loading…' : 'Show older messages'}
        </button>
      )}
    </div>
  );
}

/** The snippet with each matched range in <mark>: text nodes only, never markup from the server. */
function highlighted(hit: SearchHit): ComponentChildren {
  const parts: ComponentChildren[] = [];
  let at = 0;
  for (const [index, range] of hit.highlights.entries()) {
    if (range.start > at) parts.push(hit.snippet.slice(at, range.start));
    parts.push(<mark key={index}>{hit.snippet.slice(range.start, range.end)}</mark>);
    at = range.end;
  }
  if (at < hit.snippet.length) parts.push(hit.snippet.slice(at));
  return parts;
}

function describeSearchError(error: unknown): string {
  if (error instanceof ParleyError) {
    if (error.codeName === 'RATE_LIMITED') return 'Searching too often: wait a moment and try again.';
    if (error.codeName === 'INVALID_ARGUMENT') return error.message;
    if (error.codeName === 'UNAVAILABLE') return 'The server did not answer: search again in a moment.';
  }
  return 'The search failed.';
}
