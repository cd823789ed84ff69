import { signedByParley } from './before-send-hook.mjs';

// Events after they happen, in order per conversation, at least once: keep
// the ids you handled (here in memory; in your database in production).
export function webhookReceiver(secret, onEvent) {
  const handled = new Set();
  return async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    if (!signedByParley(secret, request.headers['x-parley-signature'], body)) return response.writeHead(401).end();
    for (const event of JSON.parse(body).events) {
      if (handled.has(event.id)) continue;
      await onEvent(event); // throw to refuse the batch: Parley sends it again later
      handled.add(event.id);
    }
    response.writeHead(204).end();
  };
}
