/** Where versus results land: bench/results/versus/<scenario>-<time>.json unless a path is given. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const resultsDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'versus');

export function writeResult(scenario: string, summary: unknown, path: string | undefined): string {
  const target = path ?? resolve(resultsDir, `${scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, `${JSON.stringify(summary, null, 2)}\n`);
  return target;
}
