// What an idle round asks a server (docs/SERVERS.md, "Requests and cost"): nothing twice in a round, a
// presence read only when its state (size, time, tag) changed, `objects/` listed only when something
// was taken in (or in a complete round), the full check without a stat per file, the access monitor on
// the round's connection without the header — and every change still seen in the round after it.
import type { Medium } from '../../../src/services/store/medium';
import { Paths } from '../../../src/services/store/format';
import { ServerAccess } from '../../../src/services/remote/server-access';
import { startServerWithMedia, type ServerWithMedia } from '../../support/server-media';
import { HttpProxy, type ProxiedRequest } from '../../support/http-proxy';
import { newSharedStore, openDevice, syncAll, type Device } from '../../support/store-fixture';

jest.setTimeout(120_000);

const KINDS = [{ name: 'lighttpd' as const }, { name: 's3rver' as const }];

/** A request as a key: method, path and query, WebDAV depth. */
const key = (r: ProxiedRequest) => `${r.method} ${r.headers.depth ?? ''} ${decodeURIComponent(r.url)}`;
const presenceReads = (seen: ProxiedRequest[]) => seen.filter((r) => r.method === 'GET' && /presence/.test(decodeURIComponent(r.url)) && !/list-type/.test(r.url));
const objectListings = (seen: ProxiedRequest[]) => seen.filter((r) => (r.method === 'PROPFIND' && /\/objects\//.test(r.url)) || (/list-type=2/.test(r.url) && /prefix=praxis%2Fobjects/i.test(r.url)));
const looks = (seen: ProxiedRequest[]) => seen.filter((r) => r.method === 'HEAD' || (r.method === 'PROPFIND' && r.headers.depth === '0'));

describe.each(KINDS)('an idle round on $name', (kind) => {
  let env: ServerWithMedia;
  let proxy: HttpProxy;
  const media: Medium[] = [];
  const devices: Device[] = [];
  beforeAll(async () => {
    env = await startServerWithMedia(kind.name);
    proxy = await HttpProxy.start(env.target);
  });
  afterAll(async () => {
    for (const d of devices.splice(0)) await d.store.close().catch(() => undefined);
    for (const m of media.splice(0)) m.close?.();
    await proxy?.close();
    await env?.server.stop();
  });

  test('asks only what can have changed, and still sees each change in the next round', async () => {
    const m = <T extends Medium>(x: T): T => (media.push(x), x);
    const store = await newSharedStore('Teekanne-Nordstrand-2026', m(env.connect()));
    // a: counted (through the proxy); b: its own connection
    const a = await openDevice(store, 'A', { medium: m(env.connect(proxy.url)), exchange: { heartbeatMs: 600_000, auditMs: 600_000 } });
    const b = await openDevice(store, 'B', { medium: m(env.connect()), exchange: { heartbeatMs: 600_000, auditMs: 600_000 } });
    devices.push(a, b);
    await a.replica.put('clients', 'a1', { n: 1 });
    await b.replica.put('clients', 'b1', { n: 1 });
    await syncAll([a, b], 3);
    // a WebDAV folder's tag is believed once it is 2 s old
    await new Promise((r) => setTimeout(r, 3000));
    await a.exchange.exchange();

    proxy.reset();
    await a.exchange.exchange();
    const idle = [...proxy.seen];
    const repeated = idle.map(key).filter((k, i, all) => all.indexOf(k) !== i);
    if (process.env.IDLE_TRACE) process.stdout.write(`\n${kind.name} idle round:\n${idle.map(key).join('\n')}\n`);
    expect(repeated).toEqual([]); // nothing asked twice in a round
    expect(presenceReads(idle).map(key)).toEqual([]); // no presence changed: none read
    expect(objectListings(idle).map(key)).toEqual([]); // nothing taken in: objects/ not listed
    // one look at the other PC's presence; this PC's own is known from its last write
    expect(looks(idle).filter((r) => /presence/.test(r.url))).toHaveLength(1);
    expect(a.exchange.syncStatus).toMatchObject({ state: 'in-sync', awaited: 0 });

    // B announces a change it has not sent (its presence changes): A reads it in its next round
    (b.exchange as unknown as { lastPresence: { news: string; at: number } }).lastPresence = { news: 'x', at: 0 };
    await b.replica.put('clients', 'b2', { n: 2 });
    await (b.exchange as unknown as { writePresence(active: boolean): Promise<void> }).writePresence(true);
    proxy.reset();
    await a.exchange.exchange();
    expect(presenceReads(proxy.seen)).toHaveLength(1);

    // B sends an attachment and the record naming it: A takes both in one round (objects/ listed because a log file came)
    const bytes = Buffer.from('Befundbericht '.repeat(100));
    const ref = await b.store.putAttachment(bytes, { name: 'befund.txt', mediaType: 'text/plain' });
    await b.replica.put('clients', 'b3', { befund: ref as never });
    await syncAll([b], 1);
    proxy.reset();
    await a.exchange.exchange();
    expect(objectListings(proxy.seen).length).toBeGreaterThan(0);
    expect(await a.replica.get('clients', 'b3')).toBeDefined();
    expect(await a.replica.hasAttachment(ref.id)).toBe(true);
    expect(a.exchange.syncStatus).toMatchObject({ awaited: 0 });

    // the full check: no stat of each file (the listing gave the sizes)
    (a.exchange as unknown as { lastAudit: number; lastCompleteListing: number }).lastAudit = 0;
    (a.exchange as unknown as { lastCompleteListing: number }).lastCompleteListing = 0;
    proxy.reset();
    await a.exchange.exchange();
    const audit = [...proxy.seen];
    // left: the header (read again by the check), each device's card, presence and log folder
    const stats = looks(audit).map(key).filter((k) => !/\/(presence|device|log\/?)$/.test(k));
    expect(stats).toEqual([]);
    // the complete round reads every presence again (a server may keep a file's tag over a rewrite)
    expect(presenceReads(audit).length).toBe(2);

    // the access monitor: one listing on the round's connection, the header not read
    const access = new ServerAccess({ get: async () => undefined } as never, {} as never);
    proxy.reset();
    const r = await access.probe(env.address(proxy.url), { medium: a.exchange['io' as never] as Medium, readHeader: false, writeTest: false, expectStoreId: store.header.storeId, login: env.login });
    expect(r.state).toBe('available');
    expect(proxy.seen).toHaveLength(1);
    expect(proxy.seen.filter((x) => decodeURIComponent(x.url).includes(Paths.header))).toEqual([]);
    // the connection stays open for the rounds
    await a.exchange.exchange();
    expect(a.exchange.health).toBe('ok');
  });
});
