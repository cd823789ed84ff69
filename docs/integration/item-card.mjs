// What the conversation is about, kept with it in every member's list (the
// web app shows `title`, linked to `url`), and a message only one member
// sees: a payment reminder for the buyer alone, say.
export async function attachItem(parley, conversationId, item) {
  const response = await fetch(`${parley.url}/v1/conversations/${encodeURIComponent(conversationId)}/attributes`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${parley.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ attributes: { item_id: item.id, title: item.title, url: item.url } }),
  });
  if (!response.ok) throw new Error(`setting attributes failed: ${response.status} ${await response.text()}`);
  return (await response.json()).attributes;
}

export async function remindBuyer(parley, conversationId, buyerId, text) {
  const response = await fetch(`${parley.url}/v1/conversations/${encodeURIComponent(conversationId)}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${parley.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ senderId: 'shop', visibleTo: buyerId, text }),
  });
  if (!response.ok) throw new Error(`sending failed: ${response.status} ${await response.text()}`);
  return (await response.json()).message;
}
