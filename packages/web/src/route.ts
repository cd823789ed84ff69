/**
 * Where the user is lives in the URL hash, so a reload keeps it and the
 * browser's back button returns to the list on a phone: the open
 * conversation (`#/c/<id>`) or a live room (`#/live/<roomId>`). The admin
 * dashboard (`#/admin`) is a page of its own, outside the signed-in chat.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';

export type Route = { page: 'home' } | { page: 'conversation'; conversationId: string } | { page: 'live'; roomId: string } | { page: 'admin' };

const HOME: Route = { page: 'home' };
const CONVERSATION_PREFIX = '#/c/';
const LIVE_PREFIX = '#/live/';
const ADMIN_HASH = '#/admin';

/** The id after `prefix`, decoded; undefined when the hash is another page's or names nothing. */
function idAfter(hash: string, prefix: string): string | undefined {
  if (!hash.startsWith(prefix)) return undefined;
  try {
    const id = decodeURIComponent(hash.slice(prefix.length));
    return id === '' ? undefined : id;
  } catch {
    return undefined;
  }
}

export function parseRoute(hash: string): Route {
  if (hash === ADMIN_HASH || hash === `${ADMIN_HASH}/`) return { page: 'admin' };
  const conversationId = idAfter(hash, CONVERSATION_PREFIX);
  if (conversationId !== undefined) return { page: 'conversation', conversationId };
  const roomId = idAfter(hash, LIVE_PREFIX);
  if (roomId !== undefined) return { page: 'live', roomId };
  return HOME;
}

/** The room id typed into "Join live", or taken from a live's link pasted there (…#/live/<roomId>). */
export function roomIdFromInput(input: string): string {
  const typed = input.trim();
  const at = typed.indexOf(LIVE_PREFIX);
  if (at < 0) return typed;
  const route = parseRoute(typed.slice(at));
  return route.page === 'live' ? route.roomId : typed;
}

export function routeHash(route: Route): string {
  switch (route.page) {
    case 'home':
      return '#/';
    case 'conversation':
      return `${CONVERSATION_PREFIX}${encodeURIComponent(route.conversationId)}`;
    case 'live':
      return `${LIVE_PREFIX}${encodeURIComponent(route.roomId)}`;
    case 'admin':
      return ADMIN_HASH;
  }
}

export function useRoute(): [Route, (route: Route) => void] {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const navigate = useCallback((next: Route) => {
    const hash = routeHash(next);
    if (location.hash !== hash) location.hash = hash;
  }, []);
  return [route, navigate];
}
