// The CI-sized reliability campaign (the long one: `npm run reliability -- --long`).
import fc from 'fast-check';
import { FAULT_KINDS, failuresOf, runSchedule, SERVER_FAULT_KINDS, type FaultKind } from './campaign';
import type { ServerCarrier } from './server-carriers';

/** Seeds that once failed, kept as regression cases: [seed, devices, operations, mode]. */
const REGRESSIONS: [number, number, number, 'cloud' | 'usb'][] = [
  // the same record deleted on two devices, then edited: was flagged as a conflict (identical heads)
  [963371557, 2, 40, 'cloud'],
];

/**
 * One schedule per fault kind: [kind, seeds, devices, mode, passphrase changes]. A drawn fault that
 * finds nothing to act on (a rollback before anything changed, no attachment yet) is not counted, so
 * the seeds are tried in order until the fault happened (real time decides what a schedule finds, so
 * there are six); every schedule tried must pass. The
 * delete-attachment schedule starts with an attachment, the delete-key-file one with a passphrase change.
 */
const FAULT_CASES: [FaultKind, number[], number, 'cloud' | 'usb', boolean][] = [
  // large seeds: the xorshift generator's first draws from small seeds are all near 0 (puts only)
  ['rollback', [271828183, 314159265, 161803398, 577215664, 662607015, 299792458], 3, 'cloud', false],
  ['delete-old-logs', [314159265, 161803398, 271828183, 577215664, 662607015, 299792458], 3, 'usb', false],
  ['delete-attachment', [161803398, 271828183, 314159265, 577215664, 662607015, 299792458], 3, 'cloud', false],
  ['delete-key-file', [141421356, 271828183, 314159265, 577215664, 662607015, 299792458], 2, 'cloud', true],
  ['bit-flip', [271828183, 314159265, 161803398, 577215664, 662607015, 299792458], 3, 'usb', false],
  ['squat', [314159265, 161803398, 271828183, 577215664, 662607015, 299792458], 3, 'usb', false],
  ['empty', [161803398, 271828183, 314159265, 577215664, 662607015, 299792458], 3, 'usb', false],
  ['app-data-restore', [141421356, 271828183, 314159265, 577215664, 662607015, 299792458], 3, 'cloud', false],
];

/** Seeds with faults that once failed: [seed, devices, operations, mode, flags as in --replay]. */
const FAULT_REGRESSIONS: [number, number, number, 'cloud' | 'usb', string][] = [
  // a flipped bit in PC1's own log file no. 1 on the stick was never written again, PC1 said in-sync, PC0 never got the change:
  // the full check's rotating hash walk jumped (the cursor moved under it) and never reached that file (FolderAudit.hashSome)
  [758393657, 2, 10, 'usb', 'f'],
  // a PC's app data put back after two passphrase changes: its own later log files, under keys it had
  // replaced since, were held on the PC itself, and lost once the stick was emptied (fixed: its own presence vouches)
  [2147483617, 2, 60, 'usb', 'ypf'],
  // a PC's app data put back from a backup taken before it changed the passphrase while the stick was away:
  // the key file of that generation went with the disk, yet the PC went on writing with the key (its
  // keychain's anchor), which no other PC could ever get (fixed: an anchor whose key file is nowhere is
  // not written with; the PC's own presence under it is still its word: docs/PASSPHRASE.md)
  [222, 3, 60, 'usb', 'ypf'],
  // a PC's write came while the cloud folder was being emptied and made its device folder again: the
  // start-up called the folder foreign and offered no restore (fixed: a known PC's folder is the store's remains)
  [1746800614, 3, 20, 'cloud', 'f'],
];

/**
 * Server schedules (the long run: `npm run reliability -- --servers`): one per carrier, 20 operations,
 * its fault kinds taken in turn (at least every fourth operation is a fault: five or more, so the first
 * kind comes twice — app-data-restore needs two, a backup and the restore), together every server
 * fault kind: [carrier, kinds, seeds, devices]. Seeds are tried in order until each kind happened
 * (a stopped server is not frozen, a tear needs a PUT); every schedule tried must pass.
 */
const SERVER_CASES: [ServerCarrier, FaultKind[], number[], number][] = [
  ['webdav-lighttpd', ['app-data-restore', 'server-down', 'slow'], [271828183, 314159265, 161803398], 3],
  ['webdav-apache', ['server-restart', 'lost-answer', 'server-freeze'], [314159265, 161803398, 271828183], 2],
  ['webdav-rclone', ['torn-upload', 'pc-kill', 'server-down'], [161803398, 271828183, 314159265], 3],
  ['s3', ['pc-kill', 'torn-upload', 'server-freeze', 'lost-answer'], [577215664, 271828183, 314159265], 2],
];

describe('reliability campaign (CI size)', () => {
  test('every server fault kind has a server schedule here', () => {
    expect([...new Set(SERVER_CASES.flatMap((c) => c[1]))].sort()).toEqual([...SERVER_FAULT_KINDS].sort());
  });

  test.each(SERVER_CASES.map(([carrier, kinds, seeds, devices]) => ({ carrier, kinds, seeds, devices, names: kinds.join(', ') })))(
    'on a server: $carrier ($devices PCs; $names): they happen, nothing lost, all converge, nothing pending, no false in-sync',
    async ({ carrier, kinds, seeds, devices }) => {
      let happened = false;
      for (const seed of seeds) {
        const r = await runSchedule(seed, devices, 20, carrier, { faults: kinds });
        expect({ seed, failures: failuresOf(r) }).toEqual({ seed, failures: [] });
        if ((happened = kinds.every((k) => r.faults[k] > 0))) break;
      }
      expect(happened).toBe(true);
    },
    600000,
  );

  test('every fault kind has a schedule here', () => {
    expect(FAULT_CASES.map((c) => c[0]).sort()).toEqual([...FAULT_KINDS].sort());
  });

  test.each(FAULT_CASES.map(([kind, seeds, devices, mode, passphraseChanges]) => ({ kind, seeds, devices, mode, passphraseChanges })))(
    'fault $kind ($devices devices, $mode): it happens, nothing lost, all converge, no false in-sync',
    async ({ kind, seeds, devices, mode, passphraseChanges }) => {
      let happened = false;
      for (const seed of seeds) {
        const r = await runSchedule(seed, devices, 24, mode, { faults: kind, passphraseChanges });
        expect({ seed, failures: failuresOf(r) }).toEqual({ seed, failures: [] });
        if (kind === 'empty') expect(r.restoredFolders).toBe(r.faults.empty);
        if ((happened = r.faults[kind] > 0)) break;
      }
      expect(happened).toBe(true);
    },
    900000,
  );

  test('random faults of every kind between random practice work: nothing lost, all converge, no false in-sync', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 3 }), fc.constantFrom<'cloud' | 'usb'>('cloud', 'cloud', 'usb'), async (seed, devices, mode) => {
        const r = await runSchedule(seed, devices, 30, mode, { faults: true });
        const f = failuresOf(r);
        if (f.length) throw new Error(`npm run reliability -- --replay ${seed} ${devices} ${mode} 30 f: ${f.slice(0, 5).join('; ')}`);
      }),
      { numRuns: Number(process.env.RELIABILITY_RUNS ?? 2), endOnFailure: true },
    );
  }, 600000);

  test('on a FAT32 stick (its rules: 2 s times, entries per folder, case-insensitive names), random work and faults: nothing lost, all converge, no false in-sync', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 3 }), async (seed, devices) => {
        const r = await runSchedule(seed, devices, 30, 'usb-fat32', { faults: true });
        const f = failuresOf(r);
        if (f.length) throw new Error(`npm run reliability -- --replay ${seed} ${devices} usb-fat32 30 f: ${f.slice(0, 5).join('; ')}`);
      }),
      { numRuns: Number(process.env.RELIABILITY_RUNS ?? 1), endOnFailure: true },
    );
  }, 600000);

  test('years in minutes (format 2): packs made, merged and packed again after passphrase changes, what they hold removed, under faults — nothing lost, all converge, no false in-sync', async () => {
    const packsSeen: number[] = [];
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 3 }), fc.constantFrom<'cloud' | 'usb'>('cloud', 'usb'), async (seed, devices, mode) => {
        const r = await runSchedule(seed, devices, 60, mode, { faults: true, passphraseChanges: true, years: true });
        const f = failuresOf(r);
        if (f.length) throw new Error(`npm run reliability -- --replay ${seed} ${devices} ${mode} 60 ypf: ${f.slice(0, 5).join('; ')}`);
        packsSeen.push(r.shelf.packs);
      }),
      { numRuns: Number(process.env.RELIABILITY_RUNS ?? 2), endOnFailure: true },
    );
    // the mode did what it is for: packs lay in the shared folder at the end of the schedules
    expect(packsSeen.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  }, 900000);

  test('random practice work, random sync-client schedules: nothing lost, all converge, conflicts exactly where concurrent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 4 }), fc.constantFrom<'cloud' | 'usb'>('cloud', 'cloud', 'usb'), async (seed, devices, mode) => {
        const r = await runSchedule(seed, devices, 40, mode);
        const f = failuresOf(r);
        if (f.length) throw new Error(`seed ${seed}, ${devices} devices, ${mode}: ${f.slice(0, 5).join('; ')}`);
      }),
      { numRuns: Number(process.env.RELIABILITY_RUNS ?? 5), endOnFailure: true },
    );
  }, 600000);

  test('the same with practice passphrase changes on random PCs (also crossing): nothing lost, all converge on one passphrase, replaced ones open nothing new', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 4 }), fc.constantFrom<'cloud' | 'usb'>('cloud', 'usb'), async (seed, devices, mode) => {
        const r = await runSchedule(seed, devices, 60, mode, { passphraseChanges: true });
        const f = failuresOf(r);
        if (f.length) throw new Error(`seed ${seed}, ${devices} devices, ${mode}, passphrase changes: ${f.slice(0, 5).join('; ')}`);
      }),
      { numRuns: Number(process.env.RELIABILITY_RUNS ?? 3), endOnFailure: true },
    );
  }, 600000);

  test.each(FAULT_REGRESSIONS.map(([seed, devices, ops, mode, flags]) => ({ seed, devices, ops, mode, flags })))('regression with faults: seed $seed, $devices devices, $mode, $flags', async ({ seed, devices, ops, mode, flags }) => {
    expect(failuresOf(await runSchedule(seed, devices, ops, mode, { faults: flags.includes('f') || undefined, passphraseChanges: flags.includes('p'), years: flags.includes('y') }))).toEqual([]);
  }, 300000);

  test.each(REGRESSIONS.map(([seed, devices, ops, mode]) => ({ seed, devices, ops, mode })))('regression: seed $seed, $devices devices, $mode', async ({ seed, devices, ops, mode }) => {
    expect(failuresOf(await runSchedule(seed, devices, ops, mode))).toEqual([]);
  }, 300000);
});
