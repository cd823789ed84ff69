/**
 * Sign-in and sign-up through the server's development-only accounts. The
 * form says plainly that this is for development and demos.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Session, describeAuthError, signIn, signUp } from '../auth/dev-auth.js';

interface SignInProps {
  onSignedIn(session: Session): void;
  /** Why the user is here again (session ended, signed out elsewhere). */
  notice?: string;
}

type Mode = 'signin' | 'signup';

export function SignIn({ onSignedIn, notice }: SignInProps) {
  const [mode, setMode] = useState<Mode>('signin');
  const [userId, setUserId] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  // The page is for typing an id: start there, as any sign-in page does.
  const firstField = useRef<HTMLInputElement>(null);
  useEffect(() => firstField.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const id = userId.trim();
      const session = mode === 'signin' ? await signIn(id, password) : await signUp(id, name.trim() || id, password);
      onSignedIn(session);
    } catch (caught) {
      setError(describeAuthError(caught));
      setBusy(false);
    }
  };

  return (
    <main class="signin-page">
      <form class="signin-card" onSubmit={submit} data-testid="signin-form">
        <div class="brand">
          <img src="/favicon.svg" alt="" width={44} height={44} />
          <div>
            <h1>Parley</h1>
            <p class="muted">{mode === 'signin' ? 'Sign in to chat' : 'Create an account to chat'}</p>
          </div>
        </div>
        {notice !== undefined && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <div class="segmented" role="tablist">
          <button type="button" role="tab" aria-selected={mode === 'signin'} data-testid="mode-signin" onClick={() => setMode('signin')}>
            Sign in
          </button>
          <button type="button" role="tab" aria-selected={mode === 'signup'} data-testid="mode-signup" onClick={() => setMode('signup')}>
            Create account
          </button>
        </div>
        <label class="field">
          <span>User id</span>
          <input
            name="username"
            ref={firstField}
            data-testid="signin-user-id"
            value={userId}
            required
            maxLength={64}
            pattern="[A-Za-z0-9_.@\-]+"
            title="Letters, digits and _ . @ -"
            autocomplete="username"
            autocapitalize="none"
            spellcheck={false}
            onInput={(event) => setUserId(event.currentTarget.value)}
          />
        </label>
        {mode === 'signup' && (
          <label class="field">
            <span>Display name</span>
            <input
              name="name"
              data-testid="signin-name"
              value={name}
              maxLength={128}
              autocomplete="name"
              placeholder="How others see you"
              onInput={(event) => setName(event.currentTarget.value)}
            />
          </label>
        )}
        <label class="field">
          <span>Password</span>
          <input
            type="password"
            name="password"
            data-testid="signin-password"
            value={password}
            required
            minLength={8}
            maxLength={200}
            autocomplete={mode === 'signin' ? 'current-password' : 'new-password'}
            onInput={(event) => setPassword(event.currentTarget.value)}
          />
        </label>
        {error !== undefined && (
          <p class="form-error" role="alert" data-testid="signin-error">
            {error}
          </p>
        )}
        <button type="submit" class="button primary wide" data-testid="signin-submit" disabled={busy}>
          {busy ? 'One moment…' : mode === 'signin' ? 'Sign in' : 'Create account'}
        </button>
        <p class="dev-note" data-testid="dev-auth-note">
          <strong>Development sign-in.</strong> Accounts and passwords are kept by this Parley server for demos. Deployments turn this off
          (<code>PARLEY_DEV_AUTH=0</code>) and sign users in through their own backend.
        </p>
        <p class="signin-footer muted">
          Running this server?{' '}
          <a href="#/admin" data-testid="admin-link">
            Admin dashboard
          </a>
        </p>
      </form>
    </main>
  );
}
