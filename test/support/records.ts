// fast-check arbitraries of Bio records, for the codec's property and fuzz tests, and a record's room in a ring.
import fc from 'fast-check';
import type { BioRecord } from '../../src/ring/codec.js';

/** Records whose strings come from `str`, with up to `maxValues` values and words from `words`. */
export function bioRecords(
  str: fc.Arbitrary<string>,
  maxValues: number,
  words: fc.Arbitrary<Uint32Array | undefined>,
): fc.Arbitrary<BioRecord> {
  return (
    fc
      .record({
        cmd: fc.integer({ min: 0, max: 255 }),
        id: fc.nat({ max: 0xffffffff }),
        createdAt: fc.double({ noNaN: true }),
        doneAt: fc.double({ noNaN: true }),
        path: str,
        value: str,
        error: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        errName: str,
        result: str,
        values: fc.array(str, { maxLength: maxValues }),
        words,
      })
      // plain objects, like decode's (fast-check's records have a null prototype)
      .map((r) => ({ ...r }))
  );
}

/**
 * What a record of `bytes` payload bytes takes in a ring: its header, then the payload padded to 4. Counted
 * here, apart from ring.ts, so that the tests' model of the ring's bytes stays independent of the code.
 */
export const ringBytes = (bytes: number) => 4 + ((bytes + 3) & ~3);
