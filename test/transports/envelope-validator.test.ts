// Inbound envelope checks: shape, destination, and what the authenticated sender may claim.
import { describe, expect, it } from 'vitest';
import { EnvelopeValidator } from '../../transports/libp2p/envelope-validator.ts';

const LOCAL = 'local-peer';
const PEER = 'sending-peer';
const OTHER = 'third-peer';
const ref = (node: string, path = '/user/a') => ({ node, path, uid: 7 });
const validator = new EnvelopeValidator(LOCAL);
const check = (value: unknown) => validator.check(value, PEER);

describe('envelope validator', () => {
  it('accepts every kind of well-formed envelope the sender may send', () => {
    expect(check({ k: 'tell', to: ref(LOCAL), msg: { type: 'ping', extra: [1, { deep: true }] } })).toBeUndefined();
    expect(check({ k: 'tell', to: ref(LOCAL), msg: { type: 'get' }, reply: { node: PEER, askId: 3 } })).toBeUndefined();
    expect(check({ k: 'reply', to: { node: LOCAL, askId: 3 }, reply: { ok: true, value: { any: 'thing' } } })).toBeUndefined();
    expect(check({ k: 'reply', to: { node: LOCAL, askId: 3 }, reply: { ok: true } })).toBeUndefined();
    expect(check({ k: 'reply', to: { node: LOCAL, askId: 3 }, reply: { ok: false, error: { code: 'NotFound', message: 'gone', details: { a: 1 } } } })).toBeUndefined();
    expect(check({ k: 'watch', target: ref(LOCAL), watcher: ref(PEER) })).toBeUndefined();
    expect(check({ k: 'unwatch', target: ref(LOCAL), watcher: ref(PEER) })).toBeUndefined();
    expect(check({ k: 'terminated', watcher: ref(LOCAL), terminated: { type: 'terminated', ref: ref(PEER), reason: 'stopped' } })).toBeUndefined();
  });

  it("accepts worker threads on either side (`<node>~<name>`)", () => {
    expect(check({ k: 'tell', to: ref(`${LOCAL}~w1`), msg: { type: 'x' }, reply: { node: `${PEER}~w2`, askId: 1 } })).toBeUndefined();
    expect(check({ k: 'terminated', watcher: ref(`${LOCAL}~w1`), terminated: { type: 'terminated', ref: ref(`${PEER}~w2`), reason: 'failed' } })).toBeUndefined();
  });

  it('rejects what is not an envelope', () => {
    for (const bad of [
      null,
      42,
      'tell',
      [],
      {},
      { k: 'shout', to: ref(LOCAL) },
      { k: 'tell', to: ref(LOCAL) },
      { k: 'tell', to: ref(LOCAL), msg: 'not an object' },
      { k: 'tell', to: ref(LOCAL), msg: { kind: 'no type' } },
      { k: 'tell', to: { node: LOCAL, path: '/user/a' }, msg: { type: 'x' } },
      { k: 'tell', to: { ...ref(LOCAL), uid: -1 }, msg: { type: 'x' } },
      { k: 'tell', to: { ...ref(LOCAL), extra: 1 }, msg: { type: 'x' } },
      { k: 'tell', to: ref(LOCAL), msg: { type: 'x' }, sneaky: true },
      { k: 'tell', to: ref(LOCAL), msg: { type: 'x' }, reply: { node: PEER, askId: 1.5 } },
      { k: 'reply', to: { node: LOCAL, askId: 1 }, reply: { ok: false, error: { code: 'Teapot', message: 'x' } } },
      { k: 'reply', to: { node: LOCAL, askId: 1 }, reply: { ok: 'yes', value: 1 } },
      { k: 'terminated', watcher: ref(LOCAL), terminated: { type: 'terminated', ref: ref(PEER), reason: 'bored' } },
    ]) {
      expect(check(bad), JSON.stringify(bad)).toBe('invalid-envelope');
    }
  });

  it('rejects envelopes for other nodes: a node does not relay for its peers', () => {
    expect(check({ k: 'tell', to: ref(OTHER), msg: { type: 'x' } })).toBe('misdirected');
    expect(check({ k: 'tell', to: ref(`${LOCAL}x`), msg: { type: 'x' } })).toBe('misdirected');
    expect(check({ k: 'reply', to: { node: OTHER, askId: 1 }, reply: { ok: true, value: 1 } })).toBe('misdirected');
    expect(check({ k: 'watch', target: ref(OTHER), watcher: ref(PEER) })).toBe('misdirected');
    expect(check({ k: 'terminated', watcher: ref(OTHER), terminated: { type: 'terminated', ref: ref(PEER), reason: 'stopped' } })).toBe('misdirected');
  });

  it('rejects claims the sender cannot vouch for', () => {
    // Replies, Terminated and watch notifications would go to a third node.
    expect(check({ k: 'tell', to: ref(LOCAL), msg: { type: 'x' }, reply: { node: OTHER, askId: 1 } })).toBe('forged-origin');
    expect(check({ k: 'watch', target: ref(LOCAL), watcher: ref(OTHER) })).toBe('forged-origin');
    expect(check({ k: 'unwatch', target: ref(LOCAL), watcher: ref(`${OTHER}~w`) })).toBe('forged-origin');
    // Only the node that hosted an actor may report its death.
    expect(check({ k: 'terminated', watcher: ref(LOCAL), terminated: { type: 'terminated', ref: ref(OTHER), reason: 'stopped' } })).toBe('forged-origin');
    expect(check({ k: 'terminated', watcher: ref(LOCAL), terminated: { type: 'terminated', ref: ref(`${PEER}x`), reason: 'stopped' } })).toBe('forged-origin');
  });
});
