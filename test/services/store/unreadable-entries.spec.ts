// Entries of the shared folder that cannot be listed or read (a symbolic link loop; on an SMB share a
// folder without permission; a file where a folder is expected): each is skipped and reported by
// its path and in words, and every other device's files keep arriving, through the loaded plugin.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SyncStatus } from '../../../src/host-api';
import { host, joinThroughPage, openPage } from '../../support/settings-page';
import { tempDir, waitFor } from '../../support/temp';

// Several PCs through the loaded plugin, each with its own timers: generous on a loaded machine.
jest.setTimeout(180_000);

const PASS = 'Nordstrand-Teekanne-1';
const hex = (c: string) => c.repeat(32);

/** Entries nobody can read, the way a damaged share or a stray tool leaves them. */
function plantUnreadable(shared: string): string[] {
  const loop = (rel: string) => {
    fs.mkdirSync(path.dirname(path.join(shared, rel)), { recursive: true });
    fs.symlinkSync(path.basename(rel), path.join(shared, rel)); // points at itself: ELOOP on every use
    return rel;
  };
  const file = (rel: string) => {
    fs.mkdirSync(path.dirname(path.join(shared, rel)), { recursive: true });
    fs.writeFileSync(path.join(shared, rel), 'not a folder');
    return rel;
  };
  fs.mkdirSync(path.join(shared, 'devices', hex('b')), { recursive: true });
  return [
    loop(path.join('devices', hex('a'))), // a device "folder" that is a link loop
    loop(path.join('devices', hex('b'), 'log')), // a device's log folder that is a link loop
    file(path.join('devices', hex('c'))), // a file where a device folder is expected
    loop(path.join('objects', 'ab')), // an attachment folder that is a link loop
    loop(path.join('snapshots', hex('d'))), // a snapshot folder that is a link loop (snapshots/ is never read: not met)
  ];
}

describe('unreadable entries in the shared folder', () => {
  test('B keeps receiving A’s changes while entries under devices/ (and objects/, snapshots/) are link loops or files; each it meets is reported', async () => {
    const shared = tempDir('cs-shared-');
    const hA = host(undefined, undefined, 'Praxis-PC 1');
    const a = await openPage(hA);
    a.page.set(shared);
    hA.dialogs.secrets.push(PASS);
    expect(await a.page.invoke('save')).toMatchObject({ ok: true });
    const storeA = await a.plugin.storageProviders[0]!.open();
    await storeA.put('clients', 'vorher', { n: 1 });
    await storeA.flush({ timeoutMs: 5000 });
    const planted = plantUnreadable(shared);

    const b = await joinThroughPage('Praxis-PC 2', shared, PASS);
    const { h: hB, store: storeB } = b;
    await waitFor(async () => (await storeB.get('clients', 'vorher')) !== undefined, 10000, 'the first change on B');
    for (let i = 0; i < 3; i++) {
      await storeA.put('clients', `k${i}`, { n: i });
      await waitFor(async () => (await storeB.get('clients', `k${i}`)) !== undefined, 10000, `k${i} on B`);
    }
    await storeB.put('clients', 'von-b', { n: 9 });
    await waitFor(async () => (await storeA.get('clients', 'von-b')) !== undefined, 10000, 'B’s change on A');
    const syncOf = (p: typeof a.plugin) => {
      let v: SyncStatus | undefined;
      p.storageProviders[0]!.sync$.subscribe((x) => (v = x)).unsubscribe();
      return v!;
    };
    for (const p of [a.plugin, b.plugin]) await waitFor(() => syncOf(p).state === 'in-sync', 10000, 'in sync, not offline');

    // each entry is reported once per device by its path, with the reason in words
    // (no PC lists snapshots/ in the shared folder, a joining one neither: nobody meets that one)
    const met = planted.filter((r) => !r.startsWith('snapshots'));
    for (const h of [hA, hB]) {
      expect(h.logger.lines.filter((l) => l.includes('snapshots'))).toEqual([]);
      for (const rel of met) {
        const lines = h.logger.lines.filter((l) => l.includes('not valid store data') && l.includes(JSON.stringify(rel).slice(1, -1)));
        expect(lines.length).toBeGreaterThan(0);
        expect(lines.join('\n')).toMatch(/symbolic link|a file where a folder is expected/);
      }
    }
    await b.plugin.unload();
    await a.plugin.unload();
  });
});
