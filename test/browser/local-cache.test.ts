/**
 * The local cache in a real Chromium: the IndexedDB adapter passes the
 * LocalCache contract (the same suite the Node adapters pass, bundled for
 * the page), and the web app shows the conversation list and the open
 * conversation's messages at once after a reload while the server does not
 * answer; signing out deletes what was kept.
 */
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import type { TestServer } from '../support/fixtures.js';
import { localCacheContract } from '../../packages/client/test/local-cache-contract.js';
import {
  assertNoPageErrors,
  browserSkipReason,
  conversationItem,
  expectAttribute,
  expectText,
  expectTexts,
  messageTexts,
  openConversation,
  startWebServer,
  suiteBrowser,
  until,
} from './support.js';

const skip = browserSkipReason('local-cache.test.ts');
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The contract and the IndexedDB adapter as one script for the page: `parleyCacheContract(index)` runs one case. */
async function contractBundle(): Promise<string> {
  const result = await build({
    stdin: {
      contents: `
        import { IndexedDbCache } from './packages/client/src/cache/indexeddb-cache.ts';
        import { localCacheContract } from './packages/client/test/local-cache-contract.ts';
        globalThis.parleyCacheContract = async (index) => {
          const database = 'parley-contract-' + index;
          await localCacheContract[index].run(() => new IndexedDbCache(database));
        };`,
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
  });
  return result.outputFiles[0]?.text ?? '';
}

/** The texts the app's IndexedDB cache holds (without creating its database when it is not there yet). */
function cachedTexts(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const databases = await indexedDB.databases();
    if (!databases.some((database) => database.name === 'parley-cache')) return [];
    return new Promise<string[]>((resolveTexts, reject) => {
      const opening = indexedDB.open('parley-cache');
      opening.onerror = () => reject(opening.error);
      opening.onsuccess = () => {
        const database = opening.result;
        if (!database.objectStoreNames.contains('entries')) {
          database.close();
          resolveTexts([]);
          return;
        }
        const reading = database.transaction('entries').objectStore('entries').getAll();
        reading.onsuccess = () => {
          database.close();
          resolveTexts(reading.result as string[]);
        };
        reading.onerror = () => reject(reading.error);
      };
    });
  });
}

describe('local cache in the browser', { timeout: 120_000 }, () => {
  let fixture: TestServer;
  let baseUrl: string;
  const browser = suiteBrowser(skip);

  before(async () => {
    if (skip !== undefined) return;
    fixture = await startWebServer(undefined);
    baseUrl = fixture.server.httpUrl;
  });

  after(async () => {
    await fixture?.close();
  });

  describe('IndexedDbCache passes the LocalCache contract', () => {
    let page: Page | undefined;
    before(async () => {
      if (skip !== undefined) return;
      const user = await browser.newUser();
      // IndexedDB needs an origin: the app's, with its script replaced by the contract.
      await user.page.goto(`${baseUrl}/`);
      await user.page.evaluate(await contractBundle());
      page = user.page;
    });
    for (const [index, contractCase] of localCacheContract.entries()) {
      test(contractCase.name, { skip }, async () => {
        await (page as Page).evaluate((caseIndex) => (globalThis as unknown as { parleyCacheContract(index: number): Promise<void> }).parleyCacheContract(caseIndex), index);
      });
    }
  });

  test('a reload while the server does not answer shows the list and the open conversation at once; signing out deletes them', { skip }, async () => {
    await fixture.api.createUser('lc-bob', 'Bob');
    const alice = await browser.signedUp(baseUrl, 'lc-alice', 'Alice');
    await fixture.api.createGroup({ id: 'lc-group', name: 'Kept group', ownerId: 'lc-bob', memberIds: ['lc-alice'] });
    for (const text of ['one', 'two', 'three']) {
      const { status } = await fixture.api.call('POST', '/v1/conversations/lc-group/messages', { senderId: 'lc-bob', text });
      assert.equal(status, 201);
    }
    await openConversation(alice.page, 'Kept group');
    await expectTexts(messageTexts(alice.page), ['one', 'two', 'three']);
    await until(() => cachedTexts(alice.page), (texts) => texts.some((text) => text.includes('"three"')), 'the cache written');

    // The server is there but never answers: only the cache can show anything.
    await alice.page.routeWebSocket(/\/ws$/, () => undefined);
    await alice.page.reload();
    await expectText(alice.page.getByTestId('chat-title'), 'Kept group');
    await expectTexts(messageTexts(alice.page), ['one', 'two', 'three']);
    await until(() => conversationItem(alice.page, 'Kept group').getByTestId('conversation-preview').textContent(), (preview) => preview?.endsWith('three') === true, 'the list preview');
    assert.notEqual(await alice.page.getByTestId('connection-state').getAttribute('data-state'), 'online');

    // Back online in a new tab, then sign out: what was kept goes.
    await alice.page.close();
    const tab = await alice.context.newPage();
    await tab.goto(`${baseUrl}/`);
    await expectAttribute(tab.getByTestId('connection-state'), 'data-state', 'online');
    await tab.getByTestId('sign-out').click();
    await until(() => cachedTexts(tab), (texts) => texts.length === 0, 'the cache deleted');
    assertNoPageErrors(alice);
  });
});
