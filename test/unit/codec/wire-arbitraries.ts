// fast-check generators for values that must survive the wire codec unchanged.
import fc from 'fast-check';
import type { WireActorRef } from '../../../runtime/codec/actor-ref-schema.ts';

export const wireActorRef: fc.Arbitrary<WireActorRef> = fc.record({
  node: fc.string({ minLength: 1 }),
  path: fc.string({ minLength: 1 }),
  uid: fc.maxSafeNat(),
});

// Well-formed UTF-16: lone surrogates, -0 and own `__proto__` keys are the codec's documented
// exceptions, tested on their own.
const codePoint = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff),
);
const text = fc.string({ unit: codePoint.map((c) => String.fromCodePoint(c)) });
const key = text.filter((k) => k !== '__proto__');
const number = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.double()).map((n) => (Object.is(n, -0) ? 0 : n));

/** JSON-like values with byte arrays and actor refs mixed in at any depth. */
export const wireValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    number,
    text,
    fc.uint8Array({ maxLength: 64 }),
    wireActorRef,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5 }),
  ),
})).value;
