/** What the SDK decides about a signal before sending it: malformed input throws, the budget says when to hold back. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyError } from '@parley/protocol';
import { SignalBudget, checkSignal, decodeSignalJson, encodeSignalJson } from '../src/signals.js';

const errorName = (run: () => void) => {
  try {
    run();
  } catch (error) {
    return error instanceof ParleyError ? error.name : 'not a ParleyError';
  }
  return undefined;
};

describe('signals on the client', () => {
  it('accepts a well-formed signal and names what is wrong with the others', () => {
    assert.equal(errorName(() => checkSignal('geo.position', new Uint8Array(4096), 'location', 4096)), undefined);
    assert.equal(errorName(() => checkSignal('Geo', new Uint8Array(1), '', 4096)), 'INVALID_ARGUMENT');
    assert.equal(errorName(() => checkSignal('', new Uint8Array(1), '', 4096)), 'INVALID_ARGUMENT');
    assert.equal(errorName(() => checkSignal('geo', new Uint8Array(1), 'k'.repeat(65), 4096)), 'INVALID_ARGUMENT');
    assert.equal(errorName(() => checkSignal('geo', new Uint8Array(4097), '', 4096)), 'TOO_LARGE');
  });

  it('the budget allows a second’s worth at once, then the rate', () => {
    const budget = new SignalBudget(20, 0);
    const burst = Array.from({ length: 25 }, () => budget.take(0)).filter(Boolean).length;
    assert.equal(burst, 20, 'half the server’s burst of 40');
    assert.equal(budget.take(49), false, 'not yet a whole signal earned');
    assert.equal(budget.take(50), true, 'one every 50 ms at 20 a second');
    assert.equal(budget.take(50), false);
    assert.equal(Array.from({ length: 30 }, () => budget.take(10_050)).filter(Boolean).length, 20, 'a long pause refills only up to the burst');
  });

  it('JSON data round-trips; empty or foreign data reads as undefined', () => {
    const position = { x: 0.25, y: 0.75 };
    assert.deepEqual(decodeSignalJson({ data: encodeSignalJson(position) }), position);
    assert.equal(decodeSignalJson({ data: new Uint8Array(0) }), undefined);
    assert.equal(decodeSignalJson({ data: new Uint8Array([0xff, 0x00]) }), undefined);
  });
});
