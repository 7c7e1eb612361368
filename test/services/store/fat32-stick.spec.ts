// A practice on a FAT32 USB stick (issue #16), through the FAT32 rules of test/support/fat32-medium.ts:
// what version 1 of the format can hold in one PC's log folder, what a PC does when the stick's folder
// takes no more files (nothing lost, the others' changes still arrive, words a person can act on), and
// a presence rewritten twice within one of FAT's 2 s time steps.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Paths, segmentName } from '../../../src/services/store/format';
import { accessOfHealth } from '../../../src/services/cloud-storage-service';
import { COARSE_RECHECK_MS } from '../../../src/services/store/refused-files';
import { FAT32, Fat32Medium, fatCapacity, fatEntries } from '../../support/fat32-medium';
import { newSharedStore, openDevice, type Device } from '../../support/store-fixture';

jest.setTimeout(180_000);

const hex = (n: number) => crypto.randomBytes(n).toString('hex');

describe('FAT32 rules', () => {
  test('a log file name of format 1 takes 7 entries: one PC’s log folder holds at most 9,362 files', () => {
    const name = segmentName(1, hex(32));
    expect(name.length).toBe(75);
    expect(fatEntries(name)).toBe(7);
    expect(fatCapacity(name)).toBe(9362);
    expect(fatEntries('presence')).toBe(1); // a plain 8.3 name in one case
    expect(fatEntries('practice-store.json')).toBe(1 + 2);
  });

  test('the medium refuses what the stick would: too many entries, bad names, another spelling; times in 2 s steps', async () => {
    const root = fs.mkdtempSync(path.join(fs.realpathSync(require('node:os').tmpdir()), 'cs-fat-'));
    const m = new Fat32Medium(root);
    await m.write('a/Brief.txt', Buffer.from('x'), 'create');
    await expect(m.write('a/BRIEF.TXT', Buffer.from('y'), 'create')).rejects.toMatchObject({ code: 'EEXIST' });
    expect((await m.read('a/brief.txt', 10)).toString()).toBe('x');
    await expect(m.write('a/what?.txt', Buffer.from('y'), 'create')).rejects.toMatchObject({ code: 'EINVAL' });
    expect((await m.stat('a/Brief.txt')).mtimeMs % FAT32.timeStepMs).toBe(0);
    // fill a folder to the entry limit with 8.3 names (one entry each)
    const dir = path.join(root, 'full');
    fs.mkdirSync(dir);
    for (let i = 0; i < FAT32.entriesPerFolder; i++) fs.writeFileSync(path.join(dir, `F${i}`), '');
    await expect(m.write('full/ONEMORE', Buffer.from('z'), 'create')).rejects.toMatchObject({ code: 'ENOSPC' });
    fs.rmSync(root, { recursive: true, force: true });
  });
});

describe('a PC whose log folder on the stick takes no more files', () => {
  test('keeps its change, says so in words, still receives; sends it once there is room', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC-A', { medium: new Fat32Medium(store.shared) });
    const b = await openDevice(store, 'PC-B', { medium: new Fat32Medium(store.shared) });
    await a.replica.put('clients', 'a0', { n: 0 });
    for (const d of [a, b, a, b]) await (d as Device).replica.sealNow().then(() => d.exchange.exchange());
    expect(await b.replica.get('clients', 'a0')).toBeDefined();
    // a year of files: A's log folder at the limit (named like log files; nobody reads A's own folder for A)
    const logDir = path.join(store.shared, Paths.logDir(a.id));
    const have = fs.readdirSync(logDir);
    const filler: string[] = [];
    let used = have.reduce((n, x) => n + fatEntries(x), 0);
    for (let seq = 900_000; used + 7 <= FAT32.entriesPerFolder; seq++, used += 7) filler.push(segmentName(seq, hex(32)));
    for (const f of filler) fs.writeFileSync(path.join(logDir, f), '');
    await a.replica.put('clients', 'a1', { n: 1 });
    await a.replica.sealNow();
    await a.exchange.exchange();
    expect(a.exchange.health).toBe('full');
    expect(a.exchange.syncStatus).toMatchObject({ state: 'offline', pendingUploads: 1 });
    const words = accessOfHealth('full', {})!;
    expect(words.state).toBe('denied');
    expect(words.detail!.de).toMatch(/kein Platz mehr.*FAT32.*bleiben auf diesem PC gespeichert/s);
    expect(words.detail!.en).toMatch(/no more room.*FAT32.*stay saved on this PC/s);
    // B's change still arrives at A
    await b.replica.put('clients', 'b1', { n: 1 });
    await b.replica.sealNow();
    await b.exchange.exchange();
    await a.exchange.exchange();
    expect(await a.replica.get('clients', 'b1')).toBeDefined();
    expect(a.exchange.health).toBe('full');
    // room again (the filler taken away): A's change is sent and arrives at B
    for (const f of filler) fs.rmSync(path.join(logDir, f));
    await a.exchange.exchange();
    expect(a.exchange.health).toBe('ok');
    await b.exchange.exchange();
    expect(await b.replica.get('clients', 'a1')).toBeDefined();
    for (const d of [a, b]) await d.store.close();
  });
});

describe('presence on a stick (times in 2 s steps)', () => {
  test('two announcements within one step are both seen', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC-A', { medium: new Fat32Medium(store.shared), exchange: { heartbeatMs: 600_000 } });
    const b = await openDevice(store, 'PC-B', { medium: new Fat32Medium(store.shared), exchange: { heartbeatMs: 600_000, auditMs: 3_600_000 } });
    for (const d of [a, b, a, b]) await d.exchange.exchange();
    const presence = path.join(store.shared, Paths.presence(a.id));
    const rounds: number[] = [];
    for (let i = 1; i <= 2; i++) {
      await a.replica.put('clients', `a${i}`, { n: i });
      await a.replica.sealNow();
      await a.exchange.exchange(); // writes the log file and a presence that announces it
      // take the log file away from B's view: only the presence tells B that something is on its way
      const log = fs.readdirSync(path.join(store.shared, Paths.logDir(a.id))).sort().pop()!;
      fs.renameSync(path.join(store.shared, Paths.logDir(a.id), log), path.join(store.shared, `.hidden-${log}`));
      await b.exchange.exchange();
      rounds.push(b.exchange.syncStatus.awaited);
      fs.renameSync(path.join(store.shared, `.hidden-${log}`), path.join(store.shared, Paths.logDir(a.id), log));
      await b.exchange.exchange();
    }
    expect(fs.statSync(presence).size).toBeGreaterThan(0);
    // each time B counted A's announced change as awaited: never "in sync" while it was on its way
    expect(rounds).toEqual([1, 1]);
    for (const d of [a, b]) await d.store.close();
  });
});

describe('a damaged log file written again on a stick (times in 2 s steps)', () => {
  test('one refused and then mended within the same step, at the same size, is read again and taken', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC-A', { medium: new Fat32Medium(store.shared), exchange: { heartbeatMs: 600_000, auditMs: 0 } });
    const b = await openDevice(store, 'PC-B', { medium: new Fat32Medium(store.shared), exchange: { heartbeatMs: 600_000 } });
    for (const d of [a, b, a, b]) await d.exchange.exchange();
    await a.replica.put('clients', 'a1', { n: 1 });
    await a.replica.sealNow();
    await a.exchange.exchange();
    const logDir = path.join(store.shared, Paths.logDir(a.id));
    const file = path.join(logDir, fs.readdirSync(logDir).sort().pop()!);
    // a bit flipped on the stick (the campaign's bit-flip), at the start of one of FAT's 2 s steps
    const stepStart = Math.floor(Date.now() / FAT32.timeStepMs) * FAT32.timeStepMs;
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
    fs.writeFileSync(file, bytes);
    fs.utimesSync(file, new Date(stepStart + 100), new Date(stepStart + 100));
    await b.exchange.exchange(); // B reads the damaged copy and refuses it
    expect(b.replica.badFiles.map((x) => x.path)).toContain(path.relative(store.shared, file));
    expect(await b.replica.get('clients', 'a1')).toBeUndefined();
    await a.exchange.exchange(); // A's full check finds its own file damaged and writes it again: same name, same size
    expect(fs.readFileSync(file).equals(bytes)).toBe(false);
    expect(fs.statSync(file).size).toBe(bytes.length);
    // … within the same 2 s step: on the stick the mended file has the damaged one's size and time
    fs.utimesSync(file, new Date(stepStart + 900), new Date(stepStart + 900));
    // the step over (the rounds of a few seconds later): B looks at the file once more and takes it
    const realNow = Date.now.bind(Date);
    const later = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + COARSE_RECHECK_MS);
    try {
      for (let i = 0; i < 3; i++) await b.exchange.exchange();
    } finally {
      later.mockRestore();
    }
    expect(await b.replica.get('clients', 'a1')).toBeDefined();
    for (const d of [a, b]) await d.store.close();
  });
});
