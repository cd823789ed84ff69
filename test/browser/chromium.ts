/**
 * Which Chromium the browser tests drive, and how they get it without a manual
 * install step.
 *
 * 1. `PARLEY_CHROMIUM=/path/to/chromium` when set (for example Debian's
 *    `/usr/bin/chromium`).
 * 2. Otherwise Debian's `/usr/bin/chromium` when it is installed (CI installs
 *    it: the project's browser of record).
 * 3. Otherwise, on Linux x86_64: the headless Chromium shipped inside the npm
 *    package `@sparticuz/chromium` (a root devDependency, so `npm install`
 *    brings it from the npm registry; no download from anywhere else), so that
 *    `npm test` works on a machine with only Node and npm. The package holds
 *    it brotli-compressed; the first test run unpacks it once into
 *    `node_modules/.cache/` (a few seconds).
 *
 * When none is found, browser tests are skipped loudly (a banner, and each test
 * counted as skipped with the exact command to fix it), except in CI
 * (`CI=true`), where a missing browser is a failure.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';
const BUNDLED_PACKAGE = '@sparticuz/chromium';

/** How to get a browser, for messages: exact commands, no guessing. */
export const INSTALL_HINT =
  process.platform === 'linux' && process.arch === 'x64'
    ? `run \`npm install\` (it brings ${BUNDLED_PACKAGE}), or point PARLEY_CHROMIUM at a Chromium, e.g. \`sudo apt-get install chromium && PARLEY_CHROMIUM=/usr/bin/chromium npm test\``
    : `${BUNDLED_PACKAGE} ships Chromium for Linux x86_64 only; on ${process.platform} ${process.arch} install Chromium or Chrome and run \`PARLEY_CHROMIUM=/path/to/chromium npm test\` (on Debian/Ubuntu: \`sudo apt-get install chromium\`, then PARLEY_CHROMIUM=/usr/bin/chromium)`;

export type ChromiumSource =
  | { kind: 'path'; path: string; origin: string }
  | { kind: 'bundled'; compressed: string; path: string; version: string }
  | { kind: 'missing'; reason: string };

/** Finds a Chromium without starting or unpacking anything. */
export function findChromium(): ChromiumSource {
  const configured = process.env.PARLEY_CHROMIUM;
  if (configured !== undefined && configured !== '') {
    return existsSync(configured)
      ? { kind: 'path', path: configured, origin: 'PARLEY_CHROMIUM' }
      : { kind: 'missing', reason: `PARLEY_CHROMIUM=${configured} does not exist` };
  }
  if (existsSync(DEBIAN_CHROMIUM)) return { kind: 'path', path: DEBIAN_CHROMIUM, origin: 'Debian package chromium' };
  const bundled = bundledChromium();
  if (bundled !== undefined) return bundled;
  return { kind: 'missing', reason: `no Chromium found (no ${BUNDLED_PACKAGE} for ${process.platform} ${process.arch}, no ${DEBIAN_CHROMIUM}, PARLEY_CHROMIUM not set)` };
}

function bundledChromium(): ChromiumSource | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  let packageDir: string;
  try {
    // The package's entry is build/cjs/index.cjs; its binaries sit in bin/.
    packageDir = resolve(dirname(createRequire(import.meta.url).resolve(BUNDLED_PACKAGE)), '..', '..');
  } catch {
    return undefined;
  }
  const compressed = join(packageDir, 'bin', 'chromium.br');
  if (!existsSync(compressed)) return undefined;
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  // node_modules/@sparticuz/chromium → node_modules/.cache/parley-chromium-<version>/chromium
  const path = join(packageDir, '..', '..', '.cache', `parley-chromium-${version}`, 'chromium');
  return { kind: 'bundled', compressed, path, version };
}

/** The executable to launch; unpacks the bundled one on first use. Throws when there is none. */
export async function chromiumExecutable(source: ChromiumSource = findChromium()): Promise<string> {
  if (source.kind === 'missing') throw new Error(`browser tests need Chromium: ${source.reason}. To fix: ${INSTALL_HINT}`);
  if (source.kind === 'path' || existsSync(source.path)) return source.path;
  // Test files run in parallel processes: each unpacks to a file of its own and
  // renames it into place, so a reader never sees a half-written binary.
  mkdirSync(dirname(source.path), { recursive: true });
  const partial = `${source.path}.${process.pid}.partial`;
  try {
    await pipeline(createReadStream(source.compressed), createBrotliDecompress(), createWriteStream(partial, { mode: 0o755 }));
    renameSync(partial, source.path);
  } finally {
    rmSync(partial, { force: true });
  }
  return source.path;
}

/**
 * Why this file's browser tests are skipped, or undefined to run them. Outside
 * CI a missing browser skips them with a banner on stderr; in CI it never
 * skips, so that launching fails and names the fix.
 */
export function browserSkipReason(file: string): string | undefined {
  const source = findChromium();
  if (source.kind !== 'missing' || process.env.CI === 'true') return undefined;
  const reason = `SKIPPED: no Chromium for the browser tests (${source.reason}). To run them: ${INSTALL_HINT}`;
  process.stderr.write(`\n${'!'.repeat(78)}\n!! ${file}: ${reason}\n${'!'.repeat(78)}\n\n`);
  return reason;
}
