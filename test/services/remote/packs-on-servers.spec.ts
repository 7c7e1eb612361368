// Format 2 on servers (#16): packs written with a conditional create, listed in complete rounds,
// what they hold removed with a DELETE (WebDAV) or DeleteObject (S3) — only the PC's own files — and a
// new PC joins from the packs. lighttpd honours conditions, rclone serves torn uploads, s3rver ignores
// conditions: the three behave differently where it matters.
import type { Medium } from '../../../src/services/store/medium';
import { Paths } from '../../../src/services/store/format';
import type { ExchangeOptions } from '../../../src/services/store/shared-folder-exchange';
import { startServerWithMedia, type ServerKind } from '../../support/server-media';
import { newSharedStore, openDevice, syncAll, type Device } from '../../support/store-fixture';

jest.setTimeout(300_000);

/** Every round complete (auditMs 0), packs of 4, no margin. */
const FAST: Partial<ExchangeOptions> = { auditMs: 0, packMinFiles: 4, packMarginMs: 0, repairGraceMs: 0, heartbeatMs: 600_000 };
const ids = async (d: Device) => (await d.store.list('clients')).map((r) => `${r.id}=${JSON.stringify(r.data)}`).sort();
const names = async (m: Medium, rel: string) => (await m.list(rel).catch(() => [])).map((e) => e.name).filter((n) => !n.startsWith('.'));

describe.each(['lighttpd', 'rclone', 's3rver'] as ServerKind[])('packs on %s', (kind) => {
  test('packed, acknowledged, removed with the server’s own delete; a new PC joins from the packs', async () => {
    const env = await startServerWithMedia(kind);
    const media: Medium[] = [];
    const connect = () => {
      const m = env.connect();
      media.push(m);
      return m;
    };
    const devices: Device[] = [];
    try {
      const loader = connect();
      const store = await newSharedStore('Teekanne-Nordstrand-2026', loader);
      const server = { ...store, shared: loader.label, medium: undefined };
      const a = await openDevice(server, 'A', { medium: connect(), exchange: FAST });
      const b = await openDevice(server, 'B', { medium: connect(), exchange: FAST });
      devices.push(a, b);
      await syncAll([a, b], 1);
      for (let i = 0; i < 9; i++) {
        await a.store.put('clients', `A-${i}`, { n: i });
        await a.replica.sealNow();
      }
      await b.store.put('clients', 'B-0', { n: 0 });
      const settled = async () => (await names(loader, Paths.logDir(a.id))).length === 1 && (await names(loader, Paths.packsDir(a.id))).length === 2;
      for (let i = 0; i < 8 && !(await settled()); i++) await syncAll([a, b], 1);
      expect(await names(loader, Paths.packsDir(a.id))).toHaveLength(2);
      expect(await names(loader, Paths.logDir(a.id))).toHaveLength(1); // 9 files: two packs of 4, one left
      expect(a.exchange.removedPaths.length).toBe(8);
      expect(a.exchange.removedPaths.every((p) => p.startsWith(Paths.deviceDir(a.id)))).toBe(true);
      const c = await openDevice(server, 'C', { medium: connect(), exchange: FAST });
      devices.push(c);
      await syncAll([c], 2);
      expect(await ids(c)).toEqual(await ids(a));
      expect(await ids(b)).toEqual(await ids(a));
      expect(await ids(c)).toHaveLength(10);
    } finally {
      for (const d of devices) await d.store.close().catch(() => undefined);
      for (const m of media) m.close?.();
      await env.server.stop();
    }
  });
});
