/**
 * The demos over signals, in a real browser against a real server, each
 * person in their own browser context. Whiteboard: what one draws shows on
 * the other's board as it is drawn (pixels are read back from the canvas),
 * a stroke drawn faster than the signal rate arrives with every point, and
 * "Clear for everyone" clears both. Live location: a member who opens
 * the panel after another started sharing sees them at once (the server's
 * kept value), then stops seeing them when they stop.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { assertNoPageErrors, browserSkipReason, openConversation, send, startDirectChat, suiteBrowser, suiteWebServer, until } from './support.js';

const skip = browserSkipReason('signal-demos.test.ts');

/** How many pixels of the board are drawn on. */
function inkOf(page: Page): Promise<number> {
  return page.getByTestId('whiteboard').evaluate((element) => {
    const canvas = element as HTMLCanvasElement;
    const pixels = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
    let ink = 0;
    for (let index = 3; index < pixels.length; index += 4) if ((pixels[index] ?? 0) > 0) ink += 1;
    return ink;
  });
}

describe('the signal demos: whiteboard and live location', { timeout: 120_000 }, () => {
  const browser = suiteBrowser(skip);
  const web = suiteWebServer(skip);

  test('a stroke drawn by one appears on the other’s board; clearing clears both', { skip }, async () => {
    const ann = await browser.signedUp(web.baseUrl, 'wb-ann', 'Ann');
    const ben = await browser.signedUp(web.baseUrl, 'wb-ben', 'Ben');
    await startDirectChat(ann.page, 'wb-ben');
    await send(ann.page, 'draw with me');
    await openConversation(ben.page, 'Ann');
    for (const page of [ann.page, ben.page]) await page.getByTestId('panel-button-whiteboard').click();
    assert.equal(await inkOf(ben.page), 0);

    const box = await ann.page.getByTestId('whiteboard').boundingBox();
    assert.ok(box !== null);
    await ann.page.mouse.move(box.x + 30, box.y + 30);
    await ann.page.mouse.down();
    for (let step = 1; step <= 20; step++) await ann.page.mouse.move(box.x + 30 + step * 8, box.y + 30 + step * 6, { steps: 2 });
    await ann.page.mouse.up();

    await until(() => inkOf(ben.page), (ink) => ink > 200, 'the stroke on Ben’s board');
    await until(() => inkOf(ann.page), (ink) => ink > 200, 'and on Ann’s');
    await ben.page.getByRole('button', { name: 'Clear for everyone' }).click();
    await until(() => inkOf(ann.page), (ink) => ink === 0, 'cleared on Ann’s board too');
    assertNoPageErrors(ann, ben);
  });

  test('a long stroke, drawn faster than signals may go, arrives whole', { skip }, async () => {
    const ann = await browser.signedUp(web.baseUrl, 'wl-ann', 'Ann');
    const ben = await browser.signedUp(web.baseUrl, 'wl-ben', 'Ben');
    await startDirectChat(ann.page, 'wl-ben');
    await send(ann.page, 'a long one');
    await openConversation(ben.page, 'Ann');
    for (const page of [ann.page, ben.page]) await page.getByTestId('panel-button-whiteboard').click();
    const box = await ann.page.getByTestId('whiteboard').boundingBox();
    assert.ok(box !== null);
    // About three seconds of pointer moves, a frame apart: more pieces than the signal rate lets through.
    await ann.page.mouse.move(box.x + 20, box.y + 20);
    await ann.page.mouse.down();
    for (let step = 0; step < 180; step++) {
      const row = Math.floor(step / 30);
      const across = row % 2 === 0 ? step % 30 : 29 - (step % 30);
      await ann.page.mouse.move(box.x + 20 + across * 8, box.y + 20 + row * 40 + (step % 30) * 1.2);
      await ann.page.waitForTimeout(16);
    }
    await ann.page.mouse.up();
    const pointsOf = (page: Page) => page.getByTestId('whiteboard').getAttribute('data-points');
    const drawn = await pointsOf(ann.page);
    assert.ok(Number(drawn) > 100, `Ann drew ${drawn} points`);
    await until(() => pointsOf(ben.page), (points) => points === drawn, 'every point on Ben’s board');
    assertNoPageErrors(ann, ben);
  });

  test('a shared location shows for a member who opens the panel later, and goes when sharing stops', { skip }, async () => {
    const ann = await browser.signedUp(web.baseUrl, 'lo-ann', 'Ann');
    const ben = await browser.signedUp(web.baseUrl, 'lo-ben', 'Ben');
    await startDirectChat(ann.page, 'lo-ben');
    await send(ann.page, 'where are you?');
    await ann.page.getByTestId('panel-button-location').click();
    await ann.page.getByRole('button', { name: 'Simulate' }).click();
    await until(() => ann.page.getByTestId('location-canvas').getAttribute('data-sharers'), (sharers) => sharers === 'lo-ann', 'Ann sees herself');
    await new Promise((resolve) => setTimeout(resolve, 500));

    await openConversation(ben.page, 'Ann');
    await ben.page.getByTestId('panel-button-location').click();
    const canvas = ben.page.getByTestId('location-canvas');
    await until(() => canvas.getAttribute('data-sharers'), (sharers) => sharers === 'lo-ann', 'Ben sees Ann from the kept value');
    await until(() => canvas.getAttribute('aria-label'), (label) => label === 'Locations of Ann', 'named');
    await ann.page.getByRole('button', { name: 'Stop sharing' }).click();
    await until(() => canvas.getAttribute('data-sharers'), (sharers) => sharers === '', 'gone when she stops');
    assertNoPageErrors(ann, ben);
  });
});
