/**
 * The admin dashboard is a chunk of its own: people chatting never load it.
 * Opening #/admin loads it (once); when that fails the page says so and
 * offers to try again.
 */
import { useEffect, useState } from 'preact/hooks';

type AdminPageModule = typeof import('./admin-page.js');

let loading: Promise<AdminPageModule> | undefined;

function loadAdminPage(): Promise<AdminPageModule> {
  loading ??= import('./admin-page.js').catch((error: unknown) => {
    // Forgotten, so that trying again fetches it again.
    loading = undefined;
    throw error;
  });
  return loading;
}

export function AdminLoader() {
  const [loaded, setLoaded] = useState<AdminPageModule | 'failed' | undefined>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let current = true;
    loadAdminPage().then(
      (module) => current && setLoaded(module),
      () => current && setLoaded('failed'),
    );
    return () => {
      current = false;
    };
  }, [attempt]);

  if (loaded === undefined) {
    return (
      <main class="signin-page">
        <p role="status" class="muted">
          <span class="spinner" aria-hidden="true" /> Opening the admin dashboard…
        </p>
      </main>
    );
  }
  if (loaded === 'failed') {
    return (
      <main class="signin-page">
        <div class="signin-card">
          <p role="alert">The admin dashboard could not be opened. Check your connection and try again.</p>
          <button
            type="button"
            class="button"
            onClick={() => {
              setLoaded(undefined);
              setAttempt((count) => count + 1);
            }}
          >
            Try again
          </button>
        </div>
      </main>
    );
  }
  return <loaded.AdminPage />;
}
