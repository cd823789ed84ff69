// Your backend signs a user in (its own way), then gives the app a Parley
// token for that user. Creating the user is idempotent: do it every time.
export async function parleyTokenFor(parley, user) {
  const headers = { authorization: `Bearer ${parley.adminKey}`, 'content-type': 'application/json' };
  const created = await fetch(`${parley.url}/v1/users`, { method: 'POST', headers, body: JSON.stringify({ id: user.id, name: user.name }) });
  if (!created.ok) throw new Error(`creating the user failed: ${created.status} ${await created.text()}`);
  const minted = await fetch(`${parley.url}/v1/users/${encodeURIComponent(user.id)}/tokens`, { method: 'POST', headers, body: JSON.stringify({ ttlSeconds: 3600 }) });
  if (!minted.ok) throw new Error(`minting a token failed: ${minted.status} ${await minted.text()}`);
  return (await minted.json()).token; // hand it to the app; it connects with it
}
