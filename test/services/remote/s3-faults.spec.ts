// What no local server shows, injected by a proxy (node:http) in front of s3rver — and lighttpd where
// the same fault means the same for WebDAV: conflicts on conditional creates, storms of 503 SlowDown,
// a slow first byte, a body cut short. Nothing is lost, retries stay within their bounds, a cut
// transfer is refused and read again.
import * as crypto from 'node:crypto';
import type { Medium } from '../../../src/services/store/medium';
import { Paths } from '../../../src/services/store/format';
import { S3Medium } from '../../../src/services/remote/s3-medium';
import { WebDavMedium } from '../../../src/services/remote/webdav-medium';
import { startLighttpd, startS3rver, type TestServer } from '../../support/servers';
import { HttpProxy, type ProxiedRequest } from '../../support/http-proxy';
import { newSharedStore, openDevice, syncAll } from '../../support/store-fixture';
import { waitFor } from '../../support/temp';

jest.setTimeout(90_000);

interface Opts {
  timeoutMs?: number;
  attempts?: number;
  maxBackoffMs?: number;
}

interface Kind {
  name: string;
  start(): Promise<{ server: TestServer; proxy: HttpProxy; via(o?: Opts): Medium; direct(): Medium }>;
}

const s3: Kind = {
  name: 's3rver',
  start: async () => {
    const s = await startS3rver();
    const proxy = await HttpProxy.start(s.url);
    const login = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
    const at = (endpoint: string) => ({ endpoint, bucket: s.bucket, prefix: 'praxis', region: s.region });
    return {
      server: s,
      proxy,
      via: (o = {}) => new S3Medium(at(proxy.url.replace(/\/$/, '')), login, { timeoutMs: 3000, attempts: 4, maxBackoffMs: 1000, ...o }),
      direct: () => new S3Medium(at(s.endpoint), login),
    };
  },
};

const lighttpd: Kind = {
  name: 'lighttpd',
  start: async () => {
    const s = await startLighttpd({});
    const proxy = await HttpProxy.start(s.url);
    return { server: s, proxy, via: (o = {}) => new WebDavMedium(proxy.url, undefined, { timeoutMs: 3000, attempts: 4, maxBackoffMs: 1000, ...o }), direct: () => new WebDavMedium(s.url, undefined) };
  },
};

const isPut = (r: ProxiedRequest) => r.method === 'PUT';
const isCreate = (r: ProxiedRequest) => isPut(r) && r.headers['if-none-match'] === '*';
const isList = (r: ProxiedRequest) => (r.method === 'GET' && /[?&]list-type=2/.test(r.url)) || r.method === 'PROPFIND';
const slowDown = (headers: Record<string, string> = {}) => ({ kind: 'status' as const, status: 503, headers: { 'content-type': 'application/xml', ...headers }, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>' });
/** A fault for the first `n` requests that match, then none. */
const times = <T>(n: number, match: (r: ProxiedRequest) => boolean, fault: T) => (r: ProxiedRequest) => (match(r) && n-- > 0 ? fault : undefined);

function setUp(kind: Kind) {
  let env: Awaited<ReturnType<Kind['start']>>;
  const media: Medium[] = [];
  const keep = <T extends Medium>(m: T): T => (media.push(m), m);
  beforeEach(async () => {
    env = await kind.start();
  });
  afterEach(async () => {
    for (const m of media.splice(0)) m.close?.();
    await env?.proxy.close();
    await env?.server.stop();
  });
  return {
    get env() {
      return env;
    },
    via: (o?: Opts) => keep(env.via(o)),
    direct: () => keep(env.direct()),
  };
}

const bytesNamed = () => {
  const bytes = crypto.randomBytes(2000);
  return { bytes, rel: Paths.keyFile(crypto.createHash('sha256').update(bytes).digest('hex')) };
};

describe('s3rver: conditional creates (409 ConditionalRequestConflict, 412 PreconditionFailed)', () => {
  const t = setUp(s3);

  test('409 on a conditional create is retried (S3 says so); the file is there, once', async () => {
    const m = t.via();
    const { bytes, rel } = bytesNamed();
    t.env.proxy.fault = times(2, isCreate, { kind: 'status', status: 409, headers: { 'content-type': 'application/xml' }, body: '<Error><Code>ConditionalRequestConflict</Code><Message>A conflicting operation occurred.</Message></Error>' });
    await m.write(rel, bytes, 'create');
    expect(t.env.proxy.seen.filter(isPut)).toHaveLength(3);
    expect((await t.direct().read(rel, 1 << 20)).equals(bytes)).toBe(true);
  });

  test('409 that does not pass fails as busy (EAGAIN, never "not found"); the carrier keeps the change pending and sends it once it passes', async () => {
    const store = await newSharedStore('Teekanne-Nordstrand-2026', t.direct());
    const a = await openDevice(store, 'Empfang', { medium: t.via({ attempts: 2 }) });
    await syncAll([a], 1);
    t.env.proxy.fault = (r) => (isCreate(r) && r.url.includes('/log/') ? { kind: 'status', status: 409, body: '<Error><Code>ConditionalRequestConflict</Code></Error>' } : undefined);
    await a.replica.put('clients', 'c1', { name: 'Anna' });
    await a.replica.sealNow();
    await a.exchange.exchange();
    expect(a.exchange.health).toBe('unreachable');
    expect(a.exchange.syncStatus).toMatchObject({ state: 'offline', pendingUploads: 1 });
    const e = await t.via({ attempts: 1 }).write(Paths.segment(a.id, 99, 'a'.repeat(64)), Buffer.from('x'), 'create').then(() => undefined, (x: unknown) => x);
    expect(e).toMatchObject({ code: 'EAGAIN' });
    t.env.proxy.fault = undefined;
    await a.exchange.exchange();
    expect(a.exchange.syncStatus).toMatchObject({ state: 'in-sync', pendingUploads: 0 });
    const mine = a.replica.ownLogFiles().at(-1)!;
    expect(await t.direct().exists(Paths.segment(a.id, mine.seq, mine.hash))).toBe(true);
    await a.store.close();
  });

  test('412 on a create is taken as "there already" — and a server that said so wrongly loses nothing: the next listing misses the name and it is written again', async () => {
    const store = await newSharedStore('Teekanne-Nordstrand-2026', t.direct());
    const a = await openDevice(store, 'Empfang', { medium: t.via() });
    const b = await openDevice(store, 'Therapie 1', { medium: t.direct() });
    await syncAll([a, b], 1);
    let lied = 0;
    t.env.proxy.fault = (r) => (isCreate(r) && r.url.includes('/log/') && lied++ === 0 ? { kind: 'status', status: 412, body: '<Error><Code>PreconditionFailed</Code></Error>' } : undefined);
    await a.replica.put('clients', 'c1', { name: 'Anna' });
    await a.replica.sealNow();
    await a.exchange.exchange(); // the PUT "failed" with 412: not stored
    const mine = a.replica.ownLogFiles().at(-1)!;
    const rel = Paths.segment(a.id, mine.seq, mine.hash);
    expect(await t.direct().exists(rel)).toBe(false);
    await a.exchange.exchange(); // listed without it: written again
    expect(await t.direct().exists(rel)).toBe(true);
    await syncAll([a, b], 1);
    expect((await b.replica.get('clients', 'c1'))?.data).toEqual({ name: 'Anna' });
    await a.store.close();
    await b.store.close();
  });
});

describe.each([s3, lighttpd])('$name: passing failures and time limits', (kind) => {
  const t = setUp(kind);

  test('a short storm of 503 SlowDown is waited out with back-off (250 ms, 500 ms …), the write succeeds', async () => {
    const m = t.via();
    const { bytes, rel } = bytesNamed();
    await m.exists(''); // connected
    t.env.proxy.reset();
    t.env.proxy.fault = times(2, isPut, slowDown());
    const t0 = Date.now();
    await m.write(rel, bytes, 'create');
    expect(t.env.proxy.seen.filter(isPut)).toHaveLength(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    expect((await t.direct().read(rel, 1 << 20)).equals(bytes)).toBe(true);
  });

  test('Retry-After is honoured, but never beyond the longest wait (here 1 s): "Retry-After: 120" does not hold a round for minutes', async () => {
    const m = t.via({ maxBackoffMs: 1000 });
    const { bytes, rel } = bytesNamed();
    await m.exists('');
    t.env.proxy.fault = times(1, isPut, slowDown({ 'retry-after': '1' }));
    let t0 = Date.now();
    await m.write(rel, bytes, 'create');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    const other = bytesNamed();
    t.env.proxy.fault = times(2, isPut, slowDown({ 'retry-after': '120' }));
    t0 = Date.now();
    await m.write(other.rel, other.bytes, 'create');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await t.direct().exists(other.rel)).toBe(true);
  });

  test('a storm that does not end: the round gives up after the bounded attempts, says offline and keeps the change pending; it is sent once the storm is over', async () => {
    const store = await newSharedStore('Teekanne-Nordstrand-2026', t.direct());
    const a = await openDevice(store, 'Empfang', { medium: t.via({ attempts: 3, maxBackoffMs: 300 }) });
    await syncAll([a], 1);
    await a.replica.put('clients', 'c1', { name: 'Anna' });
    await a.replica.sealNow();
    t.env.proxy.reset();
    t.env.proxy.fault = () => slowDown();
    const t0 = Date.now();
    await a.exchange.exchange();
    expect(Date.now() - t0).toBeLessThan(10_000);
    // the round stops at the first request that does not pass: its attempts, and nothing after it
    expect(t.env.proxy.counts.requests).toBeLessThanOrEqual(3 * 2);
    expect(a.exchange.health).toBe('unreachable');
    expect(a.exchange.syncStatus).toMatchObject({ state: 'offline', pendingUploads: 1 });
    t.env.proxy.fault = undefined;
    await a.exchange.exchange();
    expect(a.exchange.syncStatus).toMatchObject({ state: 'in-sync', pendingUploads: 0 });
    await a.store.close();
  });

  test('a slow first byte beyond the time limit is cut at the limit and not asked again in the round', async () => {
    const m = t.via({ timeoutMs: 1000 });
    await m.exists('');
    t.env.proxy.reset();
    t.env.proxy.fault = (r) => (isList(r) ? { kind: 'delay', ms: 4000 } : undefined);
    const t0 = Date.now();
    const e = await m.list('devices').then(() => undefined, (x: unknown) => x);
    expect(e).toMatchObject({ code: 'ETIMEDOUT' });
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(t.env.proxy.seen.filter(isList)).toHaveLength(1);

    // in a round: the first request that runs into the limit ends the round
    t.env.proxy.fault = undefined;
    const store = await newSharedStore('Teekanne-Nordstrand-2026', t.direct());
    const a = await openDevice(store, 'Empfang', { medium: t.via({ timeoutMs: 1000 }) });
    await syncAll([a], 1);
    t.env.proxy.reset();
    t.env.proxy.fault = () => ({ kind: 'delay', ms: 4000 });
    const t1 = Date.now();
    await a.exchange.exchange();
    expect(Date.now() - t1).toBeLessThan(2500);
    expect(t.env.proxy.counts.requests).toBe(1);
    expect(a.exchange.health).toBe('unreachable');
    t.env.proxy.fault = undefined;
    await a.store.close();
  });
});

describe.each([s3, lighttpd])('$name: a body cut short on GET', (kind) => {
  const t = setUp(kind);

  test.each(['short', 'cut'] as const)('%s: the log file is not applied (nor remembered as refused) and read again', async (how) => {
    const store = await newSharedStore('Teekanne-Nordstrand-2026', t.direct());
    const a = await openDevice(store, 'Empfang', { medium: t.direct() });
    const b = await openDevice(store, 'Therapie 1', { medium: t.via() });
    await syncAll([a, b], 1);
    await a.replica.put('clients', 'c1', { name: 'Anna' });
    await syncAll([a], 1);
    const mine = a.replica.ownLogFiles().at(-1)!;
    const name = `${String(mine.seq).padStart(10, '0')}-${mine.hash}`;
    let cuts = 0;
    t.env.proxy.fault = (r) => (r.method === 'GET' && r.url.includes(name) && cuts++ === 0 ? { kind: 'truncate', bytes: 40, how } : undefined);
    await b.exchange.exchange();
    expect(cuts).toBeGreaterThanOrEqual(1);
    if (how === 'short') {
      // nothing at the HTTP level tells: the size listed and the hash do
      expect(await b.replica.get('clients', 'c1')).toBeUndefined();
      expect(b.replica.badFiles.map((f) => f.reason).join()).toMatch(/cut short/);
    } // 'cut': the dropped connection is an error (WebDAV asks again at once; S3's body stream fails the round)
    await waitFor(async () => (await b.exchange.exchange(), (await b.replica.get('clients', 'c1')) !== undefined), 10_000, 'the file read again and applied');
    expect(b.exchange.syncStatus).toMatchObject({ state: 'in-sync', awaited: 0 });
    await a.store.close();
    await b.store.close();
  });
});
