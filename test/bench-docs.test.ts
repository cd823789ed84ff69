/**
 * bench/README.md shows figures only as rendered from the committed result
 * files in bench/results/ (bench/render-readme.ts): a figure typed by hand
 * between the markers, or a result file changed without re-rendering, fails
 * here. The same holds for the charts beside the versus results.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { README_PATH, renderPlots, renderReadme } from '../bench/render-readme.js';

test('bench/README.md tables match bench/results/ (fix: npm run bench:docs)', () => {
  const readme = readFileSync(README_PATH, 'utf8');
  assert.match(readme, /<!-- bench-table /u, 'the README has generated tables');
  assert.match(readme, /<!-- bench-profile /u, 'the README has a generated profile summary');
  assert.match(readme, /<!-- bench-versus /u, 'the README has versus tables');
  assert.equal(renderReadme(readme), readme, 'bench/README.md differs from what bench/results/ renders: run npm run bench:docs');
});

test('the versus charts match their results (fix: npm run bench:docs)', () => {
  const plots = renderPlots(readFileSync(README_PATH, 'utf8'));
  assert.ok(plots.size > 0, 'the README shows charts');
  for (const [path, svg] of plots) {
    assert.ok(existsSync(path), `${path} exists`);
    assert.equal(readFileSync(path, 'utf8'), svg, `${path} differs from its results`);
  }
});
