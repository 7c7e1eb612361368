// What a round costs on a server with history: 4 devices × 500 log files, counted by a proxy in front
// of lighttpd and s3rver. An idle round and a round with one new file must not grow with the history
// (docs/SERVERS.md, "Incremental listing", has the figures this prints).

import type { Medium } from '../../../src/services/store/medium';
import { startServerWithMedia, uploadStore } from '../../support/server-media';
import { HttpProxy, type Counts } from '../../support/http-proxy';
import { localHistory, openDevice, syncAll } from '../../support/store-fixture';
import { waitFor } from '../../support/temp';

jest.setTimeout(600_000);

const DEVICES = 4;
// 500 for the figures in docs/SERVERS.md (LISTING_COST_FILES=500, several minutes); fewer by default
const FILES = Number(process.env.LISTING_COST_FILES ?? 40);

const KINDS = [{ name: 'lighttpd' as const }, { name: 's3rver' as const }];

const fmt = (c: Counts) => `${c.requests} requests (${Object.entries(c.byMethod).map(([m, n]) => `${n} ${m}`).join(', ')}), ${(c.bytesUp / 1024).toFixed(1)} KiB up, ${(c.bytesDown / 1024).toFixed(1)} KiB down`;

describe.each(KINDS)(`a round on $name with ${DEVICES} devices × ${FILES} log files`, (kind) => {
  test('idle, one new file from another PC, one own new file, the full check', async () => {
    // the history is made in a local folder (fast), then put on the server as it is
    const { local, devs } = await localHistory(DEVICES, FILES);
    const env = await startServerWithMedia(kind.name);
    const proxy = await HttpProxy.start(env.target);
    const media: Medium[] = [];
    const m = <T extends Medium>(x: T): T => (media.push(x), x);
    try {
      const loader = m(env.connect());
      await uploadStore(loader, local.shared);
      for (const d of devs) await d.store.close();
      const server = { ...local, shared: loader.label, medium: undefined };
      const reopen = (i: number, medium: Medium) => openDevice(server, `PC${i}`, { id: devs[i]!.id, localRoot: devs[i]!.localRoot, medium, exchange: { heartbeatMs: 600_000, auditMs: 3_600_000 } });
      const a = await reopen(0, m(env.connect(proxy.url)));
      const b = await reopen(1, m(env.connect()));
      await syncAll([a, b], 2);
      // A WebDAV folder's tag is believed only once the folder is 2 s unchanged (the racy window): rounds
      // until no log folder is listed completely any more — the state of every idle round after that.
      const completeListings = () => proxy.seen.filter((r) => r.method === 'PROPFIND' && r.headers.depth === '1' && /\/log\/$/.test(r.url)).length;
      await waitFor(async () => (proxy.reset(), await a.exchange.exchange(), completeListings() === 0), 20_000, 'idle rounds without complete listings');
      const out: string[] = [];
      const measure = async (what: string, round: () => Promise<void>) => {
        proxy.reset();
        await round();
        out.push(`${kind.name} ${what}: ${fmt(proxy.counts)}`);
        if (process.env.LISTING_COST_TRACE) out.push(...proxy.seen.map((r) => `  ${r.method} ${decodeURIComponent(r.url)}`));
        return proxy.counts;
      };
      const idle = await measure('idle round', () => a.exchange.exchange());
      // no log folder listed completely in an idle round (S3: every listing of a log folder starts after a name)
      expect(completeListings()).toBe(0);
      expect(proxy.seen.filter((r) => r.method === 'GET' && /list-type=2/.test(r.url) && /log%2F/i.test(r.url) && !/start-after=/.test(r.url))).toEqual([]);
      await b.replica.put('clients', 'new-from-b', { n: 1 });
      await syncAll([b], 1);
      const incoming = await measure('round with one new file from another PC', () => a.exchange.exchange());
      expect(await a.replica.get('clients', 'new-from-b')).toBeDefined();
      await a.replica.put('clients', 'new-from-a', { n: 1 });
      await a.replica.sealNow();
      const outgoing = await measure('round with one own new file', () => a.exchange.exchange());
      expect(a.exchange.syncStatus).toMatchObject({ pendingUploads: 0 });
      (a.exchange as unknown as { lastAudit: number }).lastAudit = 0;
      const audit = await measure('round with the full check (every 60 s)', () => a.exchange.exchange());
      process.stdout.write(`\n${out.join('\n')}\n`);
      for (const c of [idle, incoming, outgoing, audit]) expect(c.requests).toBeGreaterThan(0);
      await a.store.close();
      await b.store.close();
    } finally {
      for (const x of media) x.close?.();
      await proxy.close();
      await env.server.stop();
    }
  });
});


