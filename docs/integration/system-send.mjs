// Your backend posts into a conversation: an order update in the buyer and
// seller's group, sent by a "shop" user you made a member of it. The
// clientMsgId makes a retry safe: the same id is stored once.
export async function postOrderUpdate(parley, conversationId, orderId, status) {
  const response = await fetch(`${parley.url}/v1/conversations/${encodeURIComponent(conversationId)}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${parley.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ senderId: 'shop', clientMsgId: `order-${orderId}-${status}`, text: `Order ${orderId}: ${status}` }),
  });
  if (!response.ok) throw new Error(`sending failed: ${response.status} ${await response.text()}`);
  return (await response.json()).message; // { id, seq, ... } as stored
}
