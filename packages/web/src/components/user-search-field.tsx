/**
 * A user-id field that suggests people from the user directory as one types
 * (id and display name), for "New chat" and "Add members": an ARIA combobox,
 * driven by the keyboard (arrows, Enter, Escape) or the pointer. Where the
 * deployment turned search off (FORBIDDEN), it quietly stays a plain field
 * for an exact id, which is what it was before.
 *
 * `mode: 'list'` is for comma-separated ids: suggestions are for the entry
 * being typed, and picking one replaces it and starts the next.
 */
import { ParleyError, type UserProfile } from '@parley/client';
import type { Ref } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useChat, useChatStore } from '../chat/use-chat.js';

/** Typing pauses this long before the directory is asked. */
const SEARCH_DELAY_MS = 150;

interface UserSearchFieldProps {
  id: string;
  testId: string;
  value: string;
  onInput(value: string): void;
  mode: 'single' | 'list';
  placeholder?: string;
  required?: boolean;
  inputRef?: Ref<HTMLInputElement>;
}

export function UserSearchField({ id, testId, value, onInput, mode, placeholder, required, inputRef }: UserSearchFieldProps) {
  const store = useChatStore();
  const selfId = useChat((state) => state.self.userId);
  const [suggestions, setSuggestions] = useState<readonly UserProfile[]>([]);
  const [active, setActive] = useState(-1);
  const [searchOff, setSearchOff] = useState(false);
  // Shown only while the field has focus: an answer arriving after the user
  // moved on must not open a list over the buttons.
  const [focused, setFocused] = useState(false);
  const latestRequest = useRef(0);
  const listId = `${id}-suggestions`;

  const entries = mode === 'list' ? value.split(',') : [value];
  const term = (entries[entries.length - 1] ?? '').trim().replace(/^@/u, '');
  const chosen = new Set(mode === 'list' ? entries.slice(0, -1).map((entry) => entry.trim()) : []);

  useEffect(() => {
    if (searchOff || term === '') {
      setSuggestions([]);
      return;
    }
    const request = ++latestRequest.current;
    const timer = setTimeout(() => {
      store.searchUsers(term).then(
        (found) => {
          if (request !== latestRequest.current) return;
          setSuggestions(found.filter((user) => user.id !== selfId && !chosen.has(user.id)));
          setActive(-1);
        },
        (error: unknown) => {
          if (request !== latestRequest.current) return;
          setSuggestions([]);
          if (error instanceof ParleyError && error.codeName === 'FORBIDDEN') setSearchOff(true);
        },
      );
    }, SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [term, searchOff]);

  const pick = (user: UserProfile) => {
    onInput(mode === 'list' ? `${[...entries.slice(0, -1).map((entry) => entry.trim()), user.id].join(', ')}, ` : user.id);
    latestRequest.current++;
    setSuggestions([]);
    setActive(-1);
  };

  const open = focused && suggestions.length > 0;
  const onKeyDown = (event: KeyboardEvent) => {
    if (!open) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      // -1 is the field itself: past either end, the highlight returns to it.
      setActive((current) => {
        const next = current + step;
        if (next < -1) return suggestions.length - 1;
        return next >= suggestions.length ? -1 : next;
      });
    } else if (event.key === 'Enter' && active >= 0 && active < suggestions.length) {
      event.preventDefault();
      const user = suggestions[active];
      if (user !== undefined) pick(user);
    } else if (event.key === 'Escape') {
      // Closes the list, not the dialog around it.
      event.preventDefault();
      event.stopPropagation();
      latestRequest.current++;
      setSuggestions([]);
    }
  };

  return (
    <div class="combobox">
      <input
        id={id}
        ref={inputRef}
        data-testid={testId}
        value={value}
        required={required}
        autocomplete="off"
        autocapitalize="none"
        spellcheck={false}
        placeholder={placeholder}
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={open}
        aria-controls={listId}
        aria-activedescendant={open && active >= 0 ? `${listId}-${active}` : undefined}
        onInput={(event) => onInput(event.currentTarget.value)}
        onKeyDown={onKeyDown}
        onFocus={() => setFocused(true)}
        onBlur={() => {
          setFocused(false);
          setActive(-1);
        }}
      />
      {open && (
        <div class="suggestions" id={listId} role="listbox" data-testid={`${testId}-suggestions`}>
          {suggestions.map((user, index) => (
            // Focus stays in the field (aria-activedescendant); tabIndex -1 only makes the option focusable for assistive tools.
            <div
              key={user.id}
              tabIndex={-1}
              id={`${listId}-${index}`}
              role="option"
              aria-selected={index === active}
              class={index === active ? 'suggestion active' : 'suggestion'}
              data-testid="user-suggestion"
              // mousedown, not click: the input keeps focus and does not blur the list away first.
              onMouseDown={(event) => {
                event.preventDefault();
                pick(user);
              }}
            >
              <span class="suggestion-name">{user.name}</span>
              <span class="suggestion-id">@{user.id}</span>
            </div>
          ))}
        </div>
      )}
      {searchOff && (
        <span class="field-hint" data-testid={`${testId}-exact-hint`}>
          Type the exact user id: this server does not list its users.
        </span>
      )}
    </div>
  );
}
