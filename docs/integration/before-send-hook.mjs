import { createHmac, timingSafeEqual } from 'node:crypto';

// The before-send hook: Parley asks before it stores a message. This one
// keeps buyers and sellers on the platform: no phone numbers before an order.
export function beforeSendHandler(secret) {
  return async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    if (!signedByParley(secret, request.headers['x-parley-signature'], body)) return response.writeHead(401).end();
    const { message } = JSON.parse(body);
    const verdict = /\+?\d[\d\s-]{7,}\d/u.test(message.text ?? '')
      ? { action: 'reject', reason: 'contact_details', message: 'Phone numbers can be shared once an order is placed.' }
      : { action: 'allow' };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(verdict));
  };
}

export function signedByParley(secret, header, body) {
  const [stamp = '', digest = ''] = String(header).split(',');
  const t = stamp.slice(2);
  const expected = `v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
  return digest.length === expected.length && timingSafeEqual(Buffer.from(digest), Buffer.from(expected)) && Math.abs(Date.now() - Number(t)) < 60_000;
}
