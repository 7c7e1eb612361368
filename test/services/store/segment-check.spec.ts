// segmentProblem (the in-place check a new PC runs over every log file) must accept exactly what
// SegmentSchema (zod) accepts: generated log files, each then broken in one place.
import * as fc from 'fast-check';
import { SegmentSchema, segmentProblem } from '../../../src/services/store/format';

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const b36 = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdefghijklmnopqrstuvwxyz'), minLength: n, maxLength: n });
const version = fc.tuple(b36(9), b36(4), hex(32)).map(([a, b, c]) => `${a}.${b}.${c}`);
const change = fc.record({
  ver: version,
  col: fc.constantFrom('clients', 'session-notes', 'a'),
  id: fc.constantFrom('r1', 'A.b_c-9', 'x'.repeat(128)),
  parents: fc.array(version, { maxLength: 3 }),
  at: fc.constant('2026-11-29T12:00:00.000Z'),
  by: fc.string({ maxLength: 20 }),
  op: fc.constantFrom('put', 'remove', 'resolve', 'import'),
  // record data never hold the keys "__proto__", "constructor" or "prototype" (format.ts refuses them:
  // prototype tricks); fast-check makes such keys on purpose now and then (CI seed 316194780)
  data: fc.oneof(fc.constant(null), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })).filter((d) => !hasForbiddenKey(d))),
});
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
function hasForbiddenKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasForbiddenKey);
  if (typeof v !== 'object' || v === null) return false;
  return Object.entries(v).some(([k, x]) => FORBIDDEN_KEYS.has(k) || hasForbiddenKey(x));
}
const segment = fc.record({
  t: fc.constant('log'),
  v: fc.constant(1),
  device: hex(32),
  seq: fc.integer({ min: 1, max: 1e9 }),
  prev: fc.oneof(fc.constant(null), hex(64)),
  createdAt: fc.constant('2026-11-29T12:00:00.000Z'),
  changes: fc.array(change, { minLength: 1, maxLength: 3 }),
});
/** One field of the log file, or of its first change, given a value of another kind or shape. */
const breakage = fc.tuple(
  fc.constantFrom('t', 'v', 'device', 'seq', 'prev', 'createdAt', 'changes', 'c.ver', 'c.col', 'c.id', 'c.parents', 'c.at', 'c.by', 'c.op', 'c.data', 'extra', 'c.extra'),
  fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.constant(0),
    fc.constant(-1),
    fc.constant(1.5),
    fc.constant(2 ** 60),
    fc.constant(Number.NaN),
    fc.constant(''),
    fc.constant('x'.repeat(41)),
    fc.constant('x'.repeat(201)),
    fc.constant([]),
    fc.constant({}),
    fc.constant(['a']),
    fc.constant('LOG'),
    fc.constant(Array.from({ length: 257 }, () => 'a'.repeat(9) + '.aaaa.' + '0'.repeat(32))),
    fc.constant({ a: Number.POSITIVE_INFINITY }),
    fc.constant({ ['__proto__']: 1 }),
    hex(64),
    version,
  ),
);

function broken(seg: Record<string, unknown>, [field, value]: [string, unknown]): Record<string, unknown> {
  const out = JSON.parse(JSON.stringify(seg)) as Record<string, unknown>;
  const c = (out.changes as Record<string, unknown>[])[0]!;
  const [target, key] = field.startsWith('c.') ? [c, field.slice(2)] : [out, field];
  if (value === undefined) delete target[key];
  else target[key] = value;
  return out;
}

describe('segmentProblem', () => {
  it('accepts every valid log file, and exactly what SegmentSchema accepts when one field is broken', () => {
    fc.assert(
      fc.property(segment, breakage, (generated, b) => {
        const seg = JSON.parse(JSON.stringify(generated)) as Record<string, unknown>; // as read from a file
        expect(segmentProblem(seg)).toBeUndefined();
        expect(SegmentSchema.safeParse(seg).success).toBe(true);
        const x = broken(seg, b);
        expect(segmentProblem(x) === undefined).toBe(SegmentSchema.safeParse(x).success);
      }),
      { numRuns: 600 },
    );
  });

  it('refuses what is not an object, or a list of changes too long', () => {
    for (const v of [null, 1, 'log', [], [{}]]) expect(segmentProblem(v)).toBeDefined();
    const seg = { t: 'log', v: 1, device: 'a'.repeat(32), seq: 1, prev: null, createdAt: 'x', changes: [] as unknown[] };
    expect(segmentProblem(seg)).toMatch(/changes/);
  });
});
