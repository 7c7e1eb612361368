// Writes without their fsyncs for received log files (docs/STORE-FORMAT.md, "Write order" rule 2):
// complete under their names at once, made durable together later; and what a power cut could leave of
// one (an empty file under its name) is reported at the next open and received again.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { syncWritten, writeDeferred } from '../../../src/services/common/durable-fs';
import { Paths } from '../../../src/services/store/format';
import { newSharedStore, openDevice, syncAll } from '../../support/store-fixture';
import { tempDir } from '../../support/temp';

describe('writeDeferred and syncWritten', () => {
  test('files are complete under their names, no temp file is left, and a pass syncs them and their folders', async () => {
    const root = tempDir('cs-deferred-');
    const files: string[] = [];
    for (let i = 0; i < 40; i++) files.push(await writeDeferred(path.join(root, `d${i % 3}`, `f${i}`), Buffer.alloc(100 + i, i), root));
    expect(files.every((f, i) => fs.readFileSync(f).equals(Buffer.alloc(100 + i, i)))).toBe(true);
    for (const d of ['d0', 'd1', 'd2']) expect(fs.readdirSync(path.join(root, d)).filter((n) => n.startsWith('.incoming-'))).toEqual([]);
    await expect(syncWritten(files)).resolves.toBeUndefined();
    await expect(syncWritten([...files, path.join(root, 'gone')])).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a folder outside the replica or a vanished root is refused, as for durable writes', async () => {
    const root = tempDir('cs-deferred-');
    await expect(writeDeferred(path.join(root, '..', 'elsewhere', 'f'), Buffer.from('x'), root)).rejects.toMatchObject({ code: 'EINVAL' });
    // also where the folder outside exists (a write makes folders only when they are missing)
    const other = tempDir('cs-outside-');
    await expect(writeDeferred(path.join(other, 'f'), Buffer.from('x'), root)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(fs.readdirSync(other)).toEqual([]);
    fs.rmSync(root, { recursive: true });
    await expect(writeDeferred(path.join(root, 'a', 'f'), Buffer.from('x'), root)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(fs.existsSync(root)).toBe(false);
  });
});

describe('a received log file a power cut emptied', () => {
  test('is reported at the next open, received again, and the PC ends with the same data', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC-A');
    for (let i = 0; i < 5; i++) {
      await a.replica.put('clients', `k${i}`, { n: i });
      await a.replica.sealNow();
    }
    await syncAll([a], 1);
    const b = await openDevice(store, 'PC-B');
    await b.exchange.exchange();
    expect((await b.replica.list('clients')).length).toBe(5);
    const { localRoot, id } = b;
    await b.store.close();
    // what a power cut right after the round could leave: the file under its name, empty
    const logDir = path.join(localRoot, Paths.logDir(a.id));
    const victim = fs.readdirSync(logDir).sort()[2]!;
    fs.truncateSync(path.join(logDir, victim), 0);
    const again = await openDevice(store, 'PC-B', { id, localRoot });
    expect(again.replica.badFiles.some((f) => f.path.includes(victim))).toBe(true);
    await again.exchange.exchange();
    expect(fs.statSync(path.join(logDir, victim)).size).toBeGreaterThan(0);
    expect(JSON.stringify((await again.replica.list('clients')).map((r) => [r.id, r.data]).sort())).toBe(JSON.stringify((await a.replica.list('clients')).map((r) => [r.id, r.data]).sort()));
    await again.store.close();
    await a.store.close();
  });
});
