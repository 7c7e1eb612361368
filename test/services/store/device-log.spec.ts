// The compact per-device index of applied log files (device-log.ts) against the Map it replaced:
// same answers for any positions, including a planted huge one and a hash that is not hex.
import * as fc from 'fast-check';
import { DeviceLog } from '../../../src/services/store/device-log';

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));

describe('DeviceLog', () => {
  it('answers like a Map of position → hash, iterates rising, and keeps huge positions out of its array', () => {
    const seqArb = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 9_999_999_999 }));
    const hashArb = fc.oneof(hex64, fc.constantFrom('not-a-hash', 'ABCDEF'.repeat(10) + 'ABCD'));
    fc.assert(
      fc.property(fc.array(fc.tuple(seqArb, hashArb), { maxLength: 200 }), (ops) => {
        const log = new DeviceLog();
        const ref = new Map<number, string>();
        for (const [seq, hash] of ops) {
          log.set(seq, hash);
          ref.set(seq, hash);
        }
        expect(log.size).toBe(ref.size);
        expect(log.tip).toBe(ref.size ? Math.max(...ref.keys()) : 0);
        const sorted = [...ref].sort((a, b) => a[0] - b[0]);
        expect([...log]).toEqual(sorted);
        expect([...log.keys()]).toEqual(sorted.map(([s]) => s));
        for (const [seq, hash] of ref) {
          expect(log.has(seq)).toBe(true);
          expect(log.get(seq)).toBe(hash);
        }
        expect(log.has(0)).toBe(false);
        expect(log.get(301)).toBe(ref.get(301));
        // a planted position near 10^10 never makes the array that large
        expect((log as unknown as { present: Uint8Array }).present.length).toBeLessThan(1 << 21);
      }),
      { numRuns: 300 },
    );
  });
});
