// A file the carrier refused (junk under a log file's or an attachment's name) is remembered by its
// path, size and modification time and not read again on every poll until one of them changes.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COARSE_RECHECK_MS, RefusedFiles } from '../../../src/services/store/refused-files';
import { newSharedStore, openDevice } from '../../support/store-fixture';

const MiB = 1 << 20;

describe('refused files', () => {
  test('large junk files are read once, not on every round; a changed one is read again', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC-A');
    const b = await openDevice(store, 'PC-B');
    await a.replica.put('clients', 'k0', { n: 0 });
    await a.replica.sealNow();
    await a.exchange.exchange();
    // junk under valid names: three log files of a device, one attachment (all under the format's bounds)
    const junkDev = crypto.randomBytes(16).toString('hex');
    const junk: string[] = [];
    for (let seq = 1; seq <= 3; seq++) {
      const rel = path.join('devices', junkDev, 'log', `${String(seq).padStart(10, '0')}-${crypto.randomBytes(32).toString('hex')}`);
      fs.mkdirSync(path.dirname(path.join(store.shared, rel)), { recursive: true });
      fs.writeFileSync(path.join(store.shared, rel), crypto.randomBytes(6 * MiB));
      junk.push(rel);
    }
    const objHash = crypto.randomBytes(32).toString('hex');
    const objRel = path.join('objects', objHash.slice(0, 2), objHash);
    fs.mkdirSync(path.dirname(path.join(store.shared, objRel)), { recursive: true });
    fs.writeFileSync(path.join(store.shared, objRel), crypto.randomBytes(6 * MiB));
    junk.push(objRel);

    const reads = new Map<string, number>();
    const realReadFile = fs.promises.readFile;
    const spy = jest.spyOn(fs.promises, 'readFile');
    spy.mockImplementation(((file: fs.PathLike | fs.promises.FileHandle, ...rest: unknown[]) => {
      const rel = path.relative(store.shared, String(file));
      reads.set(rel, (reads.get(rel) ?? 0) + 1);
      return realReadFile.call(fs.promises, file as fs.PathLike, ...(rest as []));
    }) as typeof fs.promises.readFile);
    try {
      for (let i = 0; i < 5; i++) await b.exchange.exchange();
      expect(await b.store.get('clients', 'k0')).toBeDefined(); // good files still arrive
      for (const rel of junk) expect([rel, reads.get(rel)]).toEqual([rel, 1]);
      expect(b.replica.badFiles.map((x) => x.path)).toEqual(expect.arrayContaining(junk));

      // a changed file (same size, new time; or another size) is read again, once
      const later = new Date(Date.now() + 5000);
      fs.writeFileSync(path.join(store.shared, junk[0]!), crypto.randomBytes(6 * MiB));
      fs.utimesSync(path.join(store.shared, junk[0]!), later, later);
      fs.writeFileSync(path.join(store.shared, objRel), crypto.randomBytes(6 * MiB));
      fs.utimesSync(path.join(store.shared, objRel), later, later);
      fs.appendFileSync(path.join(store.shared, junk[1]!), 'more');
      for (let i = 0; i < 3; i++) await b.exchange.exchange();
      expect(junk.map((rel) => [rel, reads.get(rel)])).toEqual([
        [junk[0], 2],
        [junk[1], 2],
        [junk[2], 1],
        [objRel, 2],
      ]);
    } finally {
      spy.mockRestore();
    }
    await a.store.close();
    await b.store.close();
  });
});

describe('the memory of refused files', () => {
  test('is bounded: beyond its size the oldest refusal is forgotten', () => {
    const m = new RefusedFiles(3);
    for (let i = 0; i < 10; i++) m.add(`f${i}`, { size: i, mtimeMs: i, ctimeMs: i });
    expect(m.size).toBe(3);
    expect(m.has('f0', { size: 0, mtimeMs: 0, ctimeMs: 0 })).toBe(false);
    expect(m.has('f9', { size: 9, mtimeMs: 9, ctimeMs: 9 })).toBe(true);
    expect(m.has('f9', { size: 9, mtimeMs: 10, ctimeMs: 9 })).toBe(false); // another time: read again
    expect(m.has('f9', { size: 8, mtimeMs: 9, ctimeMs: 9 })).toBe(false); // another size: read again
    expect(m.has('f9', { size: 9, mtimeMs: 9, ctimeMs: 10 })).toBe(false); // written in place, mtime set back: read again
  });

  test('a stamp in whole seconds (FAT, a server) is looked at once more after its step; refused again then, it stands', () => {
    let now = 1_000_000;
    const m = new RefusedFiles(10, () => now);
    const coarse = { size: 100, mtimeMs: 1_784_000_000_000, ctimeMs: 1_784_000_000_000 };
    m.add('f', coarse);
    expect(m.has('f', coarse)).toBe(true); // within the step: not read again
    now += COARSE_RECHECK_MS;
    expect(m.has('f', coarse)).toBe(false); // a same-size rewrite in that step would look the same: read once more
    m.add('f', coarse); // refused again at the same stamp
    now += 60_000;
    expect(m.has('f', coarse)).toBe(true); // for good, until it changes
    expect(m.has('f', { ...coarse, mtimeMs: coarse.mtimeMs + 2000 })).toBe(false);
    const fine = { size: 100, mtimeMs: 1_784_000_000_123.456, ctimeMs: 1_784_000_000_123.456 };
    m.add('g', fine);
    now += 60_000;
    expect(m.has('g', fine)).toBe(true); // a file system's fine times: once is enough
  });
});
