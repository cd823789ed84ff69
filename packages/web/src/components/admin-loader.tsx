/**
 * The admin dashboard is a chunk of its own: people chatting never load it.
 * Opening #/admin loads it (once); when that fails the page says so and
 * offers to try again.
 */
import { chunkLoader, useChunk } from './lazy-chunk.js';

const loadAdminPage = chunkLoader(() => import('./admin-page.js'));

export function AdminLoader() {
  const { loaded, retry } = useChunk(loadAdminPage);
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
          <button type="button" class="button" onClick={retry}>
            Try again
          </button>
        </div>
      </main>
    );
  }
  return <loaded.AdminPage />;
}
