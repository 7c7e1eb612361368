// SharedFolderProbe: the shared folder checked in a child process, bounded in time, its answers mapped to access states.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SharedFolderProbe } from '../../../src/services/access/shared-folder-probe';
import { tempDir } from '../../support/temp';

describe('SharedFolderProbe', () => {
  test('a file system whose calls never settle yields a verdict at the bound, and the child is killed', async () => {
    const hang = path.join(tempDir('cs-hang-'), 'hang.js');
    // Injected into the real child: every fs.promises call never settles, like a dead SMB share.
    fs.writeFileSync(hang, "const fs = require('fs'); for (const k of Object.keys(fs.promises)) if (typeof fs.promises[k] === 'function') fs.promises[k] = () => new Promise(() => {}); setInterval(() => {}, 1000);");
    const probe = new SharedFolderProbe({ execArgv: ['--require', hang] });
    const t0 = Date.now();
    const r = await probe.probe(tempDir(), { timeoutMs: 1500 });
    const took = Date.now() - t0;
    expect(r).toMatchObject({ state: 'unavailable', timedOut: true });
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(10000); // the bound, not the file system's 60 s
  });

  test('real folders: missing, file, empty, foreign, read-only', async () => {
    const probe = new SharedFolderProbe();
    const base = tempDir();
    expect((await probe.probe(path.join(base, 'nope'))).state).toBe('unavailable');
    fs.writeFileSync(path.join(base, 'file'), 'x');
    expect((await probe.probe(path.join(base, 'file'))).state).toBe('denied');
    const empty = tempDir();
    expect(await probe.probe(empty)).toMatchObject({ state: 'available', content: 'empty' });
    expect(await probe.probe(empty, { expectStoreId: 'a'.repeat(32) })).toMatchObject({ state: 'wrong-folder' });
    fs.writeFileSync(path.join(empty, 'Brief.docx'), 'x');
    expect(await probe.probe(empty)).toMatchObject({ state: 'available', content: 'foreign' });
    expect(fs.readdirSync(empty)).toEqual(['Brief.docx']); // the probe file was removed
  });

  test('a check killed after writing its test file leaves nothing behind; an hour-old leftover is swept', async () => {
    const dir = tempDir();
    const hook = path.join(tempDir('cs-hang-'), 'hang-unlink.js');
    // the child writes and reads back its test file, then its removal never settles (the drive hangs there)
    fs.writeFileSync(hook, "const fs = require('fs'); fs.promises.unlink = () => new Promise(() => {}); setInterval(() => {}, 1000);");
    const r = await new SharedFolderProbe({ execArgv: ['--require', hook] }).probe(dir, { timeoutMs: 2500 });
    expect(r).toMatchObject({ timedOut: true });
    const t0 = Date.now();
    while (fs.readdirSync(dir).length > 0 && Date.now() - t0 < 15000) await new Promise((res) => setTimeout(res, 100));
    expect(fs.readdirSync(dir)).toEqual([]); // removed by the throwaway child, not left in the practice's folder
    const old = path.join(dir, '.probe-0123456789ab.tmp');
    const fresh = path.join(dir, '.probe-ba9876543210.tmp'); // another PC's check in progress
    const other = path.join(dir, '.probe-notes.tmp'); // not the check's name: never touched
    for (const f of [old, fresh, other]) fs.writeFileSync(f, 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    fs.utimesSync(old, twoHoursAgo, twoHoursAgo);
    fs.utimesSync(other, twoHoursAgo, twoHoursAgo);
    expect(await new SharedFolderProbe().probe(dir)).toMatchObject({ state: 'available', content: 'empty' });
    expect(fs.readdirSync(dir).sort()).toEqual(['.probe-ba9876543210.tmp', '.probe-notes.tmp']);
  });

  test('error codes map to access states, never raw codes', () => {
    const i = SharedFolderProbe.interpret;
    expect(i({ ok: false, step: 'write', code: 'EACCES' }, { networkShare: true }).state).toBe('auth-required');
    expect(i({ ok: false, step: 'write', code: 'EACCES' }).state).toBe('denied');
    expect(i({ ok: false, step: 'write', code: 'EROFS' }).detail.de).toContain('schreibgeschützt');
    expect(i({ ok: false, step: 'write', code: 'ENOSPC' }).detail.en).toContain('full');
    expect(i({ ok: true, header: { format: 'practice-store', version: 9, storeId: 'x' }, count: 1 }).state).toBe('wrong-folder');
  });
});
