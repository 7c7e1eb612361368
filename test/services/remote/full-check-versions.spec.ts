// The full check on a server reads a copy again only when the server lists another version of it (or
// once a day): the store's bytes are not downloaded every minute by every PC (docs/SERVERS.md,
// "Requests and cost"). Damage that changes the version is still found at the next check and mended.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FolderMedium, type Medium } from '../../../src/services/store/medium';
import { startServerWithMedia, uploadStore } from '../../support/server-media';
import { HttpProxy } from '../../support/http-proxy';
import { localHistory, openDevice } from '../../support/store-fixture';

jest.setTimeout(300_000);

const KINDS = [{ name: 'lighttpd' as const }, { name: 's3rver' as const }];

/** GETs of store files (log files, cards, keys, attachments) the proxy saw, by decoded path. */
const fileGets = (proxy: HttpProxy) =>
  proxy.seen.filter((r) => r.method === 'GET' && !/list-type=2/.test(r.url) && /(devices|keys|objects)(\/|%2F)/i.test(r.url) && !/presence/.test(r.url)).map((r) => decodeURIComponent(r.url));

describe.each(KINDS)('the full check on $name', (kind) => {
  test('reads a verified copy again only when its version changed, and mends it', async () => {
    const { local, devs } = await localHistory(2, 4, 2000);
    const env = await startServerWithMedia(kind.name);
    const proxy = await HttpProxy.start(env.target);
    const media: Medium[] = [];
    const m = <T extends Medium>(x: T): T => (media.push(x), x);
    try {
      const loader = m(env.connect());
      const header = new FolderMedium(local.shared);
      const files = await uploadStore(loader, local.shared);
      for (const d of devs) await d.store.close();
      const server = { ...local, shared: loader.label, medium: undefined };
      const a = await openDevice(server, 'PC0', { id: devs[0]!.id, localRoot: devs[0]!.localRoot, medium: m(env.connect(proxy.url)), exchange: { heartbeatMs: 600_000, auditMs: 3_600_000, auditRecheckBytes: 0 } });
      const fullCheck = async () => {
        (a.exchange as unknown as { lastAudit: number }).lastAudit = 0;
        proxy.reset();
        await a.exchange.exchange();
        return fileGets(proxy);
      };
      await a.exchange.exchange();
      const logs = files.filter((f) => /[\\/]log[\\/]/.test(f));
      expect(logs.length).toBe(8);
      // the first full check reads every copy (cards and log files) and matches it ...
      expect((await fullCheck()).length).toBe(logs.length + 2);
      // ... the next ones read none of them again
      expect(await fullCheck()).toEqual([]);
      expect(await fullCheck()).toEqual([]);

      // someone with the login overwrites another PC's log file with garbage of the same size: a new version
      const victim = logs.find((f) => f.includes(devs[1]!.id))!;
      const size = (await loader.read(victim, 1 << 20)).length;
      await new Promise((r) => setTimeout(r, 1100)); // another second: a second-granular time differs too
      await loader.write(victim, Buffer.alloc(size, 0x41), 'replace');
      const after = await fullCheck();
      expect(after.some((u) => u.includes(path.basename(victim)))).toBe(true); // read because its version changed
      expect(after.length).toBe(1);
      // another device's file: written again after the grace period (2 min by default) — found damaged now
      expect((a.exchange as unknown as { audit: { isDamaged(rel: string): boolean } }).audit.isDamaged(victim)).toBe(true);
      await a.store.close();

      // the same PC with no trust in versions (as once a day): every copy is read again; the damaged one is
      // mended at once when the grace period is over (0 here)
      const b = await openDevice(server, 'PC0', { id: devs[0]!.id, localRoot: devs[0]!.localRoot, medium: m(env.connect(proxy.url)), exchange: { heartbeatMs: 600_000, auditMs: 3_600_000, auditVersionTrustMs: 0, repairGraceMs: 0 } });
      await b.exchange.exchange();
      (b.exchange as unknown as { lastAudit: number }).lastAudit = 0;
      proxy.reset();
      await b.exchange.exchange();
      expect(fileGets(proxy).filter((u) => /[\\/]log[\\/]|log%2F/i.test(u)).length).toBeGreaterThanOrEqual(logs.length);
      expect((await loader.read(victim, 1 << 20)).equals(await header.read(victim, 1 << 20))).toBe(true);
      await b.store.close();
    } finally {
      for (const x of media) x.close?.();
      await proxy.close();
      await env.server.stop();
    }
  });
});

describe('a copy changed on the server\'s disk with its time put back (tag, size and time unchanged)', () => {
  test('is read again on the rotating slice and mended, though its version says it is the same', async () => {
    const { local, devs } = await localHistory(2, 4, 2000);
    const env = await startServerWithMedia('apache2'); // its default entity tag is time and size (lighttpd's changes with the inode's change time)
    const media: Medium[] = [];
    try {
      const loader = env.connect();
      media.push(loader);
      const files = await uploadStore(loader, local.shared);
      for (const d of devs) await d.store.close();
      const server = { ...local, shared: loader.label, medium: undefined };
      const medium = env.connect();
      media.push(medium);
      // the owner of the victim, with a slice of 8 KiB a check (~3 log files): rotation, not all at once
      const b = await openDevice(server, 'PC1', { id: devs[1]!.id, localRoot: devs[1]!.localRoot, medium, exchange: { heartbeatMs: 600_000, auditMs: 3_600_000, auditRecheckBytes: 8 << 10 } });
      const fullCheck = async () => {
        (b.exchange as unknown as { lastAudit: number }).lastAudit = 0;
        await b.exchange.exchange();
      };
      await b.exchange.exchange();
      await fullCheck(); // every copy read and matched once
      const victim = files.find((f) => f.includes(devs[1]!.id) && /[\\/]log[\\/]/.test(f))!;
      const onDisk = path.join(env.server.root, victim);
      const versionOf = async () => (await loader.list(path.dirname(victim))).find((e) => e.name === path.basename(victim))!.version;
      const untouched = await versionOf();
      const st = fs.statSync(onDisk, { bigint: true });
      const good = fs.readFileSync(onDisk);
      const fd = fs.openSync(onDisk, 'r+'); // in place: same inode, same size
      fs.writeSync(fd, Buffer.alloc(64, 0x41), 0, 64, 100);
      fs.closeSync(fd);
      // its time put back to the nanosecond (apache's tag holds it to the microsecond)
      execFileSync('touch', ['-m', '-d', `@${st.mtimeNs / 1_000_000_000n}.${String(st.mtimeNs % 1_000_000_000n).padStart(9, '0')}`, onDisk]);
      expect(untouched).toBeDefined();
      expect(await versionOf()).toBe(untouched); // the server lists the same version: only the slice can find it
      // 10 files of ~2.5 KiB, 8 KiB a check: every copy within 4 checks
      for (let i = 0; i < 5 && !fs.readFileSync(onDisk).equals(good); i++) await fullCheck();
      expect(fs.readFileSync(onDisk).equals(good)).toBe(true); // its own file: written again at once
      await b.store.close();
    } finally {
      for (const x of media) x.close?.();
      await env.server.stop();
    }
  });
});
