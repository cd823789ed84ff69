/**
 * The open conversation lives in the URL hash (`#/c/<id>`), so a reload keeps
 * it and the browser's back button returns to the list on a phone.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';

const PREFIX = '#/c/';

function parse(hash: string): string | undefined {
  if (!hash.startsWith(PREFIX)) return undefined;
  try {
    const id = decodeURIComponent(hash.slice(PREFIX.length));
    return id === '' ? undefined : id;
  } catch {
    return undefined;
  }
}

export function useOpenConversation(): [string | undefined, (conversationId: string | undefined) => void] {
  const [conversationId, setConversationId] = useState(() => parse(location.hash));
  useEffect(() => {
    const onChange = () => setConversationId(parse(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const open = useCallback((next: string | undefined) => {
    const hash = next === undefined ? '#/' : `${PREFIX}${encodeURIComponent(next)}`;
    if (location.hash !== hash) location.hash = hash;
  }, []);
  return [conversationId, open];
}
