/**
 * Vite build of the web app. `npm run build -w @parley/web` writes dist/,
 * which `parley start` hands to the server as its webRoot. `npm run dev -w
 * @parley/web` serves the app with live reload and proxies the server's
 * routes to a Parley server on 127.0.0.1:8080 (`npm start`).
 */
import { defineConfig } from 'vite';

const server = process.env.PARLEY_SERVER ?? 'http://127.0.0.1:8080';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    // One small app: a single chunk loads in one round trip.
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: {
      '/dev': { target: server, changeOrigin: true },
      '/v1': { target: server, changeOrigin: true },
      '/healthz': { target: server, changeOrigin: true },
      // The server accepts browser WebSockets from its own origin only.
      '/ws': { target: server, ws: true, changeOrigin: true, headers: { origin: server } },
    },
  },
});
