// One process writes a replica: a second one is refused, and a lost lock stops writing. A lock left by
// a process that no longer runs is taken over at once, by exactly one of the processes starting.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReplicaInUseError, ReplicaLock, judgeOwner } from '../../../src/services/store/replica-lock';
import { PracticeReplica } from '../../../src/services/store/practice-replica';
import { newSharedStore, openDevice } from '../../support/store-fixture';
import { rejection } from '../../support/storage-error';
import { tempDir, waitFor } from '../../support/temp';

const DIST_LOCK = path.join(__dirname, '..', '..', '..', 'dist', 'services', 'store', 'replica-lock.js');

/** A lock as a process killed outright leaves it: fresh, with its owner record; that process is gone. */
function leftByDeadProcess(root: string): void {
  const dead = spawnSync(process.execPath, ['-e', '']).pid!; // ran and was reaped: its pid is free
  fs.mkdirSync(path.join(root, 'replica.lock'), { recursive: true });
  const ino = String(fs.statSync(path.join(root, 'replica.lock'), { bigint: true }).ino);
  const owner = { format: 'cloud-storage/replica-owner', version: 1, host: os.hostname(), pid: dead, processStart: null, token: 'f'.repeat(32), lock: ino, since: new Date().toISOString() };
  fs.writeFileSync(path.join(root, 'replica.owner.json'), JSON.stringify(owner));
}

/**
 * Processes that all start at the same moment and try to take the lock; each says whether it won. A winner
 * holds the lock longer than the others wait (3 s), so a later "won" can only mean two holders at once.
 */
async function startersAtOnce(root: string, n: number): Promise<string[]> {
  const script = `
    const { ReplicaLock } = require(${JSON.stringify(DIST_LOCK)});
    const at = Number(process.argv[1]);
    setTimeout(async () => {
      try { const l = await ReplicaLock.acquire(${JSON.stringify(root)}, {}); console.log('won'); setTimeout(() => l.dispose(), 8000); }
      catch (e) { console.log(e.inUse ? 'in-use' : 'error ' + e.message); }
    }, at - Date.now());`;
  const at = Date.now() + 1500;
  const runs = Array.from({ length: n }, () =>
    new Promise<string>((resolve) => {
      const c = spawn(process.execPath, ['-e', script, String(at)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('exit', () => resolve(out.trim()));
    }),
  );
  return Promise.all(runs);
}

describe('single writer', () => {
  test('a second process on the same replica gets a clear "already open"', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    const e = await rejection(PracticeReplica.open({ localRoot: d.localRoot, header: store.header, key: store.key, deviceId: d.id, deviceName: 'PC1', userName: 'x' }));
    expect(e.text.en).toContain('already open');
    await d.store.close();
  });

  test('a lost lock stops writing, says so, and never crashes the host', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    await d.replica.put('clients', 'before', { ok: true });
    fs.rmSync(path.join(d.localRoot, 'replica.lock'), { recursive: true, force: true }); // another process broke it
    await waitFor(() => d.replica.readOnly, 15000, 'lock loss noticed');
    await expect(d.replica.put('clients', 'after', {})).rejects.toMatchObject({ code: 'read-only' });
    expect((await d.replica.get('clients', 'before'))!.data).toEqual({ ok: true });
    await d.store.close();
  }, 30000);

  test('a lock whose owner no longer runs is taken over at once, by exactly one of several processes starting together', async () => {
    for (let round = 0; round < 3; round++) {
      const root = tempDir('cs-race-');
      leftByDeadProcess(root);
      expect(await judgeOwner(root)).toMatchObject({ kind: 'dead', why: 'no-process' });
      const results = await startersAtOnce(root, 4);
      expect(results.filter((r) => r === 'won')).toHaveLength(1);
      expect(results.filter((r) => r === 'in-use')).toHaveLength(3);
      expect(fs.readdirSync(root).filter((n) => n.startsWith('replica.lock.'))).toEqual([]); // nothing left aside
    }
  }, 120_000);

  test('opening a replica whose owner was killed does not wait', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    await d.store.close();
    leftByDeadProcess(d.localRoot);
    const t = Date.now();
    const r = await PracticeReplica.open({ localRoot: d.localRoot, header: store.header, key: store.key, deviceId: d.id, deviceName: 'PC1', userName: 'x' });
    expect(Date.now() - t).toBeLessThan(5000); // waiting for the lock to turn stale would be 10 s; the bound leaves room for a loaded machine
    expect(JSON.parse(fs.readFileSync(path.join(d.localRoot, 'replica.owner.json'), 'utf8')).pid).toBe(process.pid);
    await r.close();
    expect(fs.existsSync(path.join(d.localRoot, 'replica.owner.json'))).toBe(false);
    expect(fs.existsSync(path.join(d.localRoot, 'replica.lock'))).toBe(false);
  });

  test('a lock held from another PC (app data on a network drive) is "open there", never taken over', async () => {
    const root = tempDir('cs-otherpc-');
    fs.mkdirSync(path.join(root, 'replica.lock'));
    const ino = String(fs.statSync(path.join(root, 'replica.lock'), { bigint: true }).ino);
    const owner = { format: 'cloud-storage/replica-owner', version: 1, host: 'praxis-pc-9', pid: 4242, processStart: null, token: 'a'.repeat(32), lock: ino, since: new Date().toISOString() };
    fs.writeFileSync(path.join(root, 'replica.owner.json'), JSON.stringify(owner));
    expect(await judgeOwner(root)).toEqual({ kind: 'other-host', host: 'praxis-pc-9' });
    const e = await ReplicaLock.acquire(root, {}).catch((x: unknown) => x);
    expect(ReplicaInUseError.isInUse(e)).toBe(true);
    expect((e as ReplicaInUseError).where).toBe('other-pc');
    expect((e as ReplicaInUseError).text.de).toContain('„praxis-pc-9“');
    expect(String(fs.statSync(path.join(root, 'replica.lock'), { bigint: true }).ino)).toBe(ino); // untouched
  });
});
