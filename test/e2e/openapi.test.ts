/**
 * The OpenAPI document at /v1/openapi.json and its page at /v1/docs: a valid
 * OpenAPI 3 document that anyone may read, holding every route the server
 * answers with the methods it answers, described by the very schemas that
 * validate requests (what it says is refused is refused, in its words), with
 * the security each route really asks for; and a page that loads nothing
 * from anywhere but the server itself.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { ADMIN_KEY, type TestServer, startTestServer } from '../support/fixtures.js';

const AUTH = { authorization: `Bearer ${ADMIN_KEY}` };
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const PROTOCOL_DOC = new URL('../../docs/protocol.md', import.meta.url);

interface Operation {
  method: string;
  path: string;
  summary?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  requestBody?: { content: Record<string, { schema: BodySchema }> };
}

interface BodySchema {
  type: string | string[];
  additionalProperties?: boolean;
  required?: string[];
  properties?: Record<string, { description?: string }>;
}

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  tags: Array<{ name: string }>;
  security: Array<Record<string, string[]>>;
  paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>>;
}

async function fetchDocument(fixture: TestServer): Promise<OpenApiDocument> {
  const response = await fetch(`${fixture.server.httpUrl}/v1/openapi.json`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/u);
  return (await response.json()) as OpenApiDocument;
}

function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ ...operation, method: method.toUpperCase(), path })),
  );
}

/** A concrete path for a templated one: `/v1/users/{id}` → `/v1/users/sample-id`. */
function concrete(path: string): string {
  return path.replace(/\{(\w+)\}/gu, 'sample-$1');
}

function templatePattern(path: string): RegExp {
  const literal = path.split(/\{\w+\}/u).map((part) => part.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&'));
  return new RegExp(`^${literal.join('[^/]+')}$`, 'u');
}

function bodySchemaOf(operation: Operation): BodySchema | undefined {
  return operation.requestBody?.content['application/json']?.schema;
}

function securityOf(document: OpenApiDocument, operation: Operation): string[] {
  return (operation.security ?? document.security).flatMap((requirement) => Object.keys(requirement));
}

/** The routes listed in the REST table of docs/protocol.md, as `METHOD /path/{param}`. */
function documentedRoutes(): Set<string> {
  const routes = new Set<string>();
  for (const [, method, path] of readFileSync(PROTOCOL_DOC, 'utf8').matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) ([^`?]+)/gmu) as Iterable<string[]>) {
    routes.add(`${method} ${(path as string).replace(/:(\w+)/gu, '{$1}')}`);
  }
  return routes;
}

test('the document is valid OpenAPI 3, served without the admin key, for this server version', async (t) => {
  const fixture = await startTestServer(t);
  const document = await fetchDocument(fixture);
  assert.match(document.openapi, /^3\.\d+\.\d+$/u);
  await SwaggerParser.validate(structuredClone(document) as never);
  const health = await fetch(`${fixture.server.httpUrl}/healthz`);
  assert.equal(document.info.version, ((await health.json()) as { version: string }).version);
  // The page's copy is the same document.
  const pageCopy = await fetch(`${fixture.server.httpUrl}/v1/docs/json`);
  assert.deepEqual(await pageCopy.json(), document);
});

test('every route the server answers is in the document with the methods it answers, a summary and a known tag', async (t) => {
  const fixture = await startTestServer(t);
  const document = await fetchDocument(fixture);
  const tags = new Set(document.tags.map((tag) => tag.name));
  const byPath = new Map<string, Set<string>>();
  for (const operation of operationsOf(document)) {
    assert.ok(operation.summary, `${operation.method} ${operation.path} has a summary`);
    assert.ok(operation.tags !== undefined && operation.tags.length > 0, `${operation.method} ${operation.path} has a tag`);
    for (const tag of operation.tags) assert.ok(tags.has(tag), `${operation.method} ${operation.path}: tag ${tag} is declared`);
    const methods = byPath.get(operation.path) ?? new Set<string>();
    methods.add(operation.method);
    byPath.set(operation.path, methods);
  }
  // The server's own route table, as its 405 answers tell it: the methods of each path are exactly the document's
  // (of every path of the document it matches: /media/uploads is also a /media/{id}).
  for (const path of byPath.keys()) {
    const response = await fetch(fixture.server.httpUrl + concrete(path), { method: 'PROPFIND', headers: AUTH });
    assert.equal(response.status, 405, path);
    const expected = new Set<string>();
    for (const [template, methods] of byPath) if (templatePattern(template).test(concrete(path))) for (const method of methods) expected.add(method);
    if (expected.has('GET')) expected.add('HEAD');
    assert.equal(response.headers.get('allow'), [...expected].sort().join(', '), path);
  }
  // The REST table of docs/protocol.md and the document list the same admin and operations routes.
  const served = new Set(
    operationsOf(document)
      .filter((operation) => /^\/(v1|healthz|readyz|metrics)(\/|$)/u.test(operation.path))
      .map((operation) => `${operation.method} ${operation.path}`),
  );
  const documented = documentedRoutes();
  documented.delete('GET /v1/docs'); // the page, not an API route
  assert.deepEqual([...served].sort(), [...documented].sort());
});

test("the web app's pages and the docs page are not API routes: left out of the document", async (t) => {
  const webRoot = mkdtempSync(join(tmpdir(), 'parley-web-'));
  t.after(() => rmSync(webRoot, { recursive: true, force: true }));
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>app</title>');
  const fixture = await startTestServer(t, { tcpPort: false, webRoot });
  const document = await fetchDocument(fixture);
  const paths = Object.keys(document.paths);
  assert.ok(!paths.some((path) => path === '/' || path.includes('*') || path.startsWith('/v1/docs')), paths.join(' '));
  assert.equal((await fetch(`${fixture.server.httpUrl}/`)).status, 200);
});

test('request bodies in the document are the schemas that validate them', async (t) => {
  const fixture = await startTestServer(t);
  const document = await fetchDocument(fixture);
  const createUser = operationsOf(document).find((operation) => operation.method === 'POST' && operation.path === '/v1/users');
  const schema = createUser === undefined ? undefined : bodySchemaOf(createUser);
  assert.ok(schema?.properties?.id?.description !== undefined);
  assert.deepEqual(schema.required, ['id']);
  assert.equal(schema.additionalProperties, false);

  const missing = await fixture.api.call('POST', '/v1/users', { name: 'no id' });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.message, 'field "id" is required');
  // The server's words for a broken rule are the document's description of it.
  const malformed = await fixture.api.call('POST', '/v1/users', { id: 'has space' });
  assert.equal(malformed.body.error.message, `field "id" must be ${schema.properties.id.description}`);
  assert.equal((await fixture.api.call('POST', '/v1/users', { id: 'ann' })).status, 201);

  // Every body the document closes to unknown fields is closed on the server, which names what it refuses.
  const withBodies = operationsOf(document).filter((operation) => bodySchemaOf(operation)?.additionalProperties === false);
  assert.ok(withBodies.length >= 10, `${withBodies.length} routes with bodies`);
  for (const operation of withBodies) {
    const body = bodySchemaOf(operation) as BodySchema;
    const response = await fixture.api.call(operation.method, concrete(operation.path), { zzUnknown: 1 });
    const label = `${operation.method} ${operation.path}`;
    assert.equal(response.status, 400, label);
    const expected = ['unknown field "zzUnknown" in the body', ...(body.required ?? []).map((field) => `field "${field}" is required`)];
    assert.ok(expected.includes(response.body.error.message), `${label}: ${response.body.error.message}`);
  }
});

test("the document's security is what the server asks for: the admin key on /v1, nothing for the document itself", async (t) => {
  const fixture = await startTestServer(t);
  const document = await fetchDocument(fixture);
  assert.deepEqual(document.security, [{ adminKey: [] }]);
  for (const operation of operationsOf(document)) {
    const label = `${operation.method} ${operation.path}`;
    const security = securityOf(document, operation);
    if (operation.path.startsWith('/v1/') && operation.path !== '/v1/openapi.json') assert.deepEqual(security, ['adminKey'], label);
    if (security.includes('adminKey')) {
      const response = await fixture.api.call(operation.method, concrete(operation.path), undefined, null);
      assert.equal(response.status, 401, label);
      assert.equal(response.body.error.name, 'UNAUTHENTICATED', label);
    } else if (security.length === 0 && operation.method === 'GET') {
      const response = await fetch(fixture.server.httpUrl + concrete(operation.path));
      assert.notEqual(response.status, 401, label);
    }
  }
  // The document's route keeps the conventions of /v1: no unknown query parameters, 405 with Allow.
  const query = await fetch(`${fixture.server.httpUrl}/v1/openapi.json?expand=1`);
  assert.equal(query.status, 400);
  const post = await fetch(`${fixture.server.httpUrl}/v1/openapi.json`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
});

test('the docs page loads only assets of the server itself, under a policy that allows nothing else', async (t) => {
  const fixture = await startTestServer(t);
  const origin = new URL(fixture.server.httpUrl).origin;
  const page = await fetch(`${fixture.server.httpUrl}/v1/docs`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/u);
  const policy = page.headers.get('content-security-policy') ?? '';
  assert.match(policy, /default-src 'self'/u);
  assert.match(policy, /script-src 'self';/u);
  assert.doesNotMatch(policy, /https?:|\*/u);
  const html = await page.text();
  const assets = [...html.matchAll(/\b(?:src|href)="([^"]+)"/gu)].map((match) => new URL(match[1] as string, page.url));
  assert.ok(assets.some((url) => url.pathname.endsWith('.js')) && assets.some((url) => url.pathname.endsWith('.css')), html);
  for (const url of assets) {
    assert.equal(url.origin, origin, url.href);
    const asset = await fetch(url);
    assert.equal(asset.status, 200, url.href);
    if (url.pathname.endsWith('swagger-initializer.js')) {
      const script = await asset.text();
      // The page reads the document from beside itself, and sends it to no online validator.
      assert.match(script, /resolveUrl\('\.\/json'\)/u);
      assert.match(script, /validatorUrl: null/u);
    } else {
      await asset.arrayBuffer();
    }
  }
});
