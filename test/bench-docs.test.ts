/**
 * bench/README.md shows figures only as rendered from the committed result
 * files in bench/results/ (bench/render-readme.ts): a figure typed by hand
 * between the markers, or a result file changed without re-rendering, fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { README_PATH, renderReadme } from '../bench/render-readme.js';

test('bench/README.md tables match bench/results/ (fix: npm run bench:docs)', () => {
  const readme = readFileSync(README_PATH, 'utf8');
  assert.match(readme, /<!-- bench-table /u, 'the README has generated tables');
  assert.match(readme, /<!-- bench-profile /u, 'the README has a generated profile summary');
  assert.equal(renderReadme(readme), readme, 'bench/README.md differs from what bench/results/ renders: run npm run bench:docs');
});
