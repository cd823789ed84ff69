#!/usr/bin/env node
/**
 * Rewrites the generated tables of docs/protocol.md from the schema
 * (packages/protocol/proto/parley.proto) and the tables of @parley/protocol
 * (request table, error table), so that the document cannot drift from the
 * code. Each table sits between marker comments:
 *
 *   <!-- BEGIN GENERATED: frames -->  ...  <!-- END GENERATED: frames -->
 *
 * Usage: node --import tsx scripts/gen-protocol-docs.mjs [--check]
 * With --check nothing is written; the exit code is 1 when the document is
 * out of date (a test runs this).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REQUESTS, PUSHES, allErrors } from '../packages/protocol/src/index.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const protoPath = join(root, 'packages/protocol/proto/parley.proto');
const docPath = join(root, 'docs/protocol.md');

/** Entries of a block (`enum X {` or `oneof body {`) with the `//` comment lines right above each. */
function blockEntries(proto, opener, entryPattern) {
  const start = proto.indexOf(opener);
  if (start < 0) throw new Error(`${opener} not found in parley.proto`);
  const lines = proto.slice(start + opener.length).split('\n');
  const entries = [];
  let comment = [];
  let section = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith('}')) break;
    if (line.startsWith('//')) {
      const text = line.slice(2).trim();
      if (/^(client|server) -> (client|server)$/.test(text)) section = text;
      else comment.push(text);
      continue;
    }
    const match = entryPattern.exec(line);
    if (match) entries.push({ ...match.groups, section, comment: comment.join(' ') });
    comment = [];
  }
  return entries;
}

const snake = (camel) => camel.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
const code = (text) => `\`${text}\``;
const cell = (text) => text.replace(/\|/g, '\\|');

function framesTable(proto) {
  const entries = blockEntries(proto, 'oneof body {', /^(?<type>\w+) (?<name>\w+) = (?<field>\d+);/);
  const answers = new Map();
  for (const [request, spec] of Object.entries(REQUESTS)) {
    if (spec.reply === null) continue;
    const list = answers.get(snake(spec.reply)) ?? [];
    list.push(code(snake(request)));
    answers.set(snake(spec.reply), list);
  }
  const pushes = new Set(PUSHES.map(snake));
  const rate = { send: 'sends per user', request: 'requests per connection', none: 'not limited' };
  const rows = ['| field | frame | message | direction | reply / answers | rate limit | notes |', '|---|---|---|---|---|---|---|'];
  for (const entry of entries) {
    const camel = entry.name.replace(/_([a-z])/g, (_, letter) => letter.toUpperCase());
    const spec = REQUESTS[camel];
    let pairing;
    let limit = '';
    if (entry.section === 'client -> server') {
      if (spec === undefined) throw new Error(`${entry.name} is not in the request table`);
      pairing = spec.reply === null ? 'no reply' : code(snake(spec.reply));
      limit = rate[spec.rate];
    } else {
      const answered = answers.get(entry.name) ?? [];
      pairing = [...answered, ...(pushes.has(entry.name) ? ['push (`request_id = 0`)'] : [])].join(', ');
      if (entry.name === 'error') pairing = 'any request; push when fatal or for request_id 0';
    }
    const direction = entry.section === 'client -> server' ? 'client → server' : 'server → client';
    rows.push(`| ${entry.field} | ${code(entry.name)} | ${code(entry.type)} | ${direction} | ${pairing} | ${limit} | ${cell(entry.comment)} |`);
  }
  return rows.join('\n');
}

function errorsTable(proto) {
  const entries = blockEntries(proto, 'enum ErrorCode {', /^ERROR_CODE_(?<name>\w+) = (?<code>\d+);/).filter((entry) => entry.name !== 'UNSPECIFIED');
  const info = new Map(allErrors().map((error) => [error.name, error]));
  const rows = ['| code | name | retryable | REST status | meaning |', '|---|---|---|---|---|'];
  for (const entry of entries) {
    const error = info.get(entry.name);
    if (error === undefined || String(error.code) !== entry.code) throw new Error(`ERROR_CODE_${entry.name} is missing from errors.ts or has another code`);
    rows.push(`| ${entry.code} | ${code(entry.name)} | ${error.retryable ? 'yes' : 'no'} | ${error.httpStatus} | ${cell(entry.comment)} |`);
  }
  return rows.join('\n');
}

function replaceBlock(doc, name, content) {
  const begin = `<!-- BEGIN GENERATED: ${name} (npm run docs:gen; do not edit) -->`;
  const end = `<!-- END GENERATED: ${name} -->`;
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`docs/protocol.md lacks the markers for ${name}:\n${begin}\n${end}`);
  return `${doc.slice(0, from + begin.length)}\n${content}\n${doc.slice(to)}`;
}

const proto = readFileSync(protoPath, 'utf8');
const current = readFileSync(docPath, 'utf8');
let next = replaceBlock(current, 'frames', framesTable(proto));
next = replaceBlock(next, 'errors', errorsTable(proto));

if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('docs/protocol.md is out of date with parley.proto and @parley/protocol: run `npm run docs:gen`.');
    process.exit(1);
  }
} else if (next !== current) {
  writeFileSync(docPath, next);
  console.log('docs/protocol.md updated');
}
