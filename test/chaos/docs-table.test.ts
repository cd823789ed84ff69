/**
 * The chaos table of docs/reliability.md is the one rendered from the
 * committed results (test/chaos/results/), so that no figure there is typed
 * by hand: after `npm run chaos`, `npm run chaos:docs` updates it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DOC_PATH, readResults, renderTable, withTable } from './docs-table.js';
import { scenarioNames } from './scenarios.js';

test('the chaos table in docs/reliability.md is rendered from the committed results', () => {
  const doc = readFileSync(DOC_PATH, 'utf8');
  const files = readResults();
  assert.ok(files.length > 0, 'test/chaos/results holds at least one run');
  const table = renderTable(files, scenarioNames());
  for (const name of scenarioNames()) assert.ok(table.includes(`| ${name} `), `a row for ${name}`);
  assert.equal(doc, withTable(doc, table), 'run npm run chaos:docs');
});
