import { signedByParley } from './before-send-hook.mjs';

// Offline push: Parley decides who to notify and what it says; your sender
// holds the APNs/FCM credentials and device tokens and delivers it.
export function pushReceiver(secret, deliver) {
  return async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    if (!signedByParley(secret, request.headers['x-parley-signature'], body)) return response.writeHead(401).end();
    for (const { userId, title, body: text, badge, conversationId } of JSON.parse(body).notifications) {
      await deliver(userId, { title, body: text, badge, data: { conversationId } }); // to each of the user's devices
    }
    response.writeHead(204).end();
  };
}
