/**
 * Puts a failed JSON-schema check into words a person can act on: which
 * field, and what it must be. Raw validator text ("must match pattern
 * \"^[A-Za-z0-9_.@-]+$\"", "must NOT have additional properties") is never
 * shown: a pattern is described by its schema's `description`
 * (see schemas.ts), and an unknown field is named.
 */

/** The parts of a validator error this module reads (Ajv's shape, with `verbose` on). */
export interface SchemaViolation {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  parentSchema?: { description?: string };
}

/** Where the checked value came from, as Fastify reports it. */
export type RequestPart = 'body' | 'querystring' | 'params' | 'headers' | string;

/** One sentence naming the field and the rule it broke. */
export function describeViolation(part: RequestPart, violation: SchemaViolation): string {
  const where = partLabel(part);
  const path = fieldPath(violation.instancePath);
  const field = path === '' ? where.whole : `${where.field} "${path}"`;
  const params = violation.params;
  switch (violation.keyword) {
    case 'additionalProperties':
      return `unknown ${where.field} "${joinPath(path, String(params.additionalProperty))}"${where.allowedHint}`;
    case 'required':
      return `${where.field} "${joinPath(path, String(params.missingProperty))}" is required`;
    case 'type':
      if (path === '' && part === 'body') return 'a JSON object body is required';
      return `${field} must be ${article(String(params.type))}`;
    case 'minLength':
      return params.limit === 1 ? `${field} must not be empty` : `${field} must be at least ${params.limit} characters long`;
    case 'maxLength':
      return `${field} must be at most ${params.limit} characters long`;
    case 'pattern':
    case 'format':
      return `${field} must be ${violation.parentSchema?.description ?? 'in the documented format'}`;
    case 'minimum':
      return `${field} must be at least ${params.limit}`;
    case 'maximum':
      return `${field} must be at most ${params.limit}`;
    case 'maxItems':
      return `${field} holds at most ${params.limit} entries`;
    case 'minItems':
      return `${field} needs at least ${params.limit} entries`;
    case 'enum':
      return `${field} must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    default:
      return `${field} is not valid`;
  }
}

function partLabel(part: RequestPart): { field: string; whole: string; allowedHint: string } {
  switch (part) {
    case 'querystring':
      return { field: 'query parameter', whole: 'the query', allowedHint: '' };
    case 'params':
      return { field: 'path segment', whole: 'the path', allowedHint: '' };
    case 'headers':
      return { field: 'header', whole: 'the headers', allowedHint: '' };
    default:
      return { field: 'field', whole: 'the body', allowedHint: ' in the body' };
  }
}

/** `/memberIds/3` → `memberIds[3]`, `/a/b` → `a.b`. */
function fieldPath(instancePath: string): string {
  let path = '';
  for (const raw of instancePath.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path = /^[0-9]+$/.test(segment) ? `${path}[${segment}]` : joinPath(path, segment);
  }
  return path;
}

function joinPath(parent: string, child: string): string {
  return parent === '' ? child : `${parent}.${child}`;
}

function article(type: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    integer: 'a whole number',
    number: 'a number',
    boolean: 'true or false',
    object: 'an object',
    array: 'a list',
    null: 'null',
  };
  return type
    .split(',')
    .map((one) => names[one] ?? one)
    .join(' or ');
}
