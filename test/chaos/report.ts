/** The chaos table: one row per scenario, as Markdown so that it pastes into docs/reliability.md. */
import type { ScenarioResult } from './scenarios.js';

function percent(part: number, whole: number): string {
  if (whole === 0) return '-';
  const value = (part / whole) * 100;
  // Never round a miss up to 100%.
  return part === whole ? '100%' : `${Math.min(99.99, value).toFixed(2)}%`;
}

function faultSummary(faults: Record<string, number>): string {
  return Object.entries(faults)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${count} ${kind}`)
    .join(', ');
}

export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function chaosTable(results: readonly ScenarioResult[]): string {
  const header = ['scenario', 'clients', 'sent', 'acked', 'delivered', 'duplicates', 'gaps', 'order violations', 'unread mismatches', 'converged in', 'faults injected (and population changes)', 'result'];
  const rows = results.map((result) => {
    const { checks, convergence } = result;
    return [
      result.name,
      String(result.clients),
      String(checks.sent),
      `${checks.acked} (${percent(checks.acked, checks.sent)})`,
      `${checks.delivered}/${checks.expectedDeliveries} (${percent(checks.delivered, checks.expectedDeliveries)})`,
      String(checks.duplicates),
      String(checks.gaps),
      String(checks.orderViolations),
      String(checks.unreadMismatches),
      convergence.converged ? `${(convergence.ms / 1000).toFixed(1)} s` : `no (${(convergence.ms / 1000).toFixed(0)} s)`,
      [faultSummary(result.faults), faultSummary(result.changes ?? {}), `${result.reconnects} reconnects`].filter((part) => part !== '').join('; '),
      result.passed ? 'pass' : 'FAIL',
    ];
  });
  return markdownTable(header, rows);
}

/** What went wrong in a failed scenario, for the console. */
export function failureDetails(result: ScenarioResult): string {
  const lines = [`${result.name}: FAILED (seed ${result.seed})`];
  if (!result.convergence.converged) lines.push(`  did not converge: ${result.convergence.reason ?? '?'}`);
  if (result.checks.misdelivered > 0) lines.push(`  ${result.checks.misdelivered} messages shown to non-members`);
  if ((result.checks.membershipMismatches ?? 0) > 0) lines.push(`  ${result.checks.membershipMismatches} memberships differ from the recorded history`);
  if (result.checks.pending > 0) lines.push(`  ${result.checks.pending} sends never settled`);
  if (result.checks.rejected > 0) lines.push(`  ${result.checks.rejected} sends rejected`);
  for (const problem of result.checks.problems) lines.push(`  - ${problem}`);
  for (const error of result.clientErrors.slice(0, 5)) lines.push(`  client error: ${error}`);
  return lines.join('\n');
}
