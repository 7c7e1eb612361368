// The carrier on servers beside the folder carrier, in the same run (issue #15): requests and bytes
// per edit, a remote change's latency to another PC, a new PC's join at 10,000 records, what a 4-PC
// practice's rounds cost, and from those the requests per working day. Part of `npm run bench`;
// `npm run bench -- --servers-only` runs only this and rewrites only its section of docs/PERFORMANCE.md.
//
// Counting: every request to a server goes through a counting proxy (node:http, on 127.0.0.1, in front
// of lighttpd + mod_webdav and of s3rver, both started by test/support/servers.ts): requests by kind,
// bytes up and down on the wire (request/status line, headers, body). For the folder the same kinds
// are counted at the medium (list, stat, read, write of the shared folder): file operations, not
// network requests — what the sync client then moves is its own business.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { ImportRecord, RecordChange } from '../src/host-api';
import { DEFAULT_TIMINGS } from '../src/services/cloud-storage-service';
import { createHeader } from '../src/services/crypto/store-crypto';
import { FolderMedium, type Medium, type MediumEntry, type MediumStat, type WriteMode } from '../src/services/store/medium';
import { PracticeReplica } from '../src/services/store/practice-replica';
import { ReplicaFolder } from '../src/services/store/replica-folder';
import { SharedFolderExchange, type ExchangeOptions } from '../src/services/store/shared-folder-exchange';
import { ServerAccess } from '../src/services/remote/server-access';
import { WebDavMedium } from '../src/services/remote/webdav-medium';
import { S3Medium } from '../src/services/remote/s3-medium';
import { startLighttpd, startS3rver, type TestServer } from '../test/support/servers';

export const SERVERS_BEGIN = '<!-- servers:begin (npm run bench -- --servers-only rewrites this section) -->';
export const SERVERS_END = '<!-- servers:end -->';

// ---- counting ------------------------------------------------------------------------------

const KINDS = ['list', 'stat', 'get', 'put', 'other'] as const;
type Kind = (typeof KINDS)[number];

class Counts {
  n: Record<Kind, number> = { list: 0, stat: 0, get: 0, put: 0, other: 0 };
  up = 0;
  down = 0;
  /** New TCP connections (servers): each is a handshake, with TLS a TLS handshake too. */
  conns = 0;
  byMethod = new Map<string, number>();

  add(kind: Kind, method: string, up: number, down: number): void {
    this.n[kind]++;
    this.up += up;
    this.down += down;
    this.byMethod.set(method, (this.byMethod.get(method) ?? 0) + 1);
  }

  get requests(): number {
    return KINDS.reduce((s, k) => s + this.n[k], 0);
  }

  copy(): Counts {
    const c = new Counts();
    c.n = { ...this.n };
    c.up = this.up;
    c.down = this.down;
    c.conns = this.conns;
    c.byMethod = new Map(this.byMethod);
    return c;
  }

  minus(o: Counts): Counts {
    const c = this.copy();
    for (const k of KINDS) c.n[k] -= o.n[k];
    c.up -= o.up;
    c.down -= o.down;
    c.conns -= o.conns;
    for (const [m, v] of o.byMethod) c.byMethod.set(m, (c.byMethod.get(m) ?? 0) - v);
    return c;
  }

  static scaled(parts: [Counts, number][]): Counts {
    const c = new Counts();
    for (const [p, f] of parts) {
      for (const k of KINDS) c.n[k] += p.n[k] * f;
      c.up += p.up * f;
      c.down += p.down * f;
      c.conns += p.conns * f;
      for (const [m, v] of p.byMethod) c.byMethod.set(m, (c.byMethod.get(m) ?? 0) + v * f);
    }
    return c;
  }

  /** The element-wise median of several samples (each kind, each byte count on its own). */
  static median(xs: Counts[]): Counts {
    const c = new Counts();
    for (const k of KINDS) c.n[k] = median(xs.map((x) => x.n[k]));
    c.up = median(xs.map((x) => x.up));
    c.down = median(xs.map((x) => x.down));
    c.conns = median(xs.map((x) => x.conns));
    const methods = new Set(xs.flatMap((x) => [...x.byMethod.keys()]));
    for (const m of methods) c.byMethod.set(m, median(xs.map((x) => x.byMethod.get(m) ?? 0)));
    return c;
  }
}

/** What one request is, by what it asks: a listing, a look at one entry, a read, a write, anything else. */
function kindOf(method: string, url: string, depth: string | undefined): Kind {
  if (method === 'PROPFIND') return depth === '0' ? 'stat' : 'list';
  if (method === 'HEAD') return 'stat';
  if (method === 'GET') return /[?&]list-type=|[?&]prefix=/.test(url) ? 'list' : 'get';
  if (method === 'PUT') return 'put';
  return 'other';
}

function headerBytes(first: string, raw: string[]): number {
  let n = Buffer.byteLength(first) + 2 + 2;
  for (let i = 0; i < raw.length; i += 2) n += Buffer.byteLength(raw[i]!) + 2 + Buffer.byteLength(raw[i + 1]!) + 2;
  return n;
}

/** A node:http proxy in front of a server that counts every request and the bytes both ways. */
class CountingProxy {
  readonly counts = new Counts();
  protected server!: http.Server;
  protected readonly agent = new http.Agent({ keepAlive: true });
  port = 0;

  constructor(protected readonly target: URL) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const up = headerBytes(`${req.method} ${req.url} HTTP/1.1`, req.rawHeaders) + body.length;
        const headers = { ...req.headers };
        const out = http.request({ host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers, agent: this.agent }, (ur) => {
          const back: Buffer[] = [];
          ur.on('data', (c: Buffer) => back.push(c));
          ur.on('end', () => {
            const rb = Buffer.concat(back);
            const raw: string[] = [];
            for (let i = 0; i < ur.rawHeaders.length; i += 2) if (ur.rawHeaders[i]!.toLowerCase() !== 'transfer-encoding') raw.push(ur.rawHeaders[i]!, ur.rawHeaders[i + 1]!);
            const chunked = ur.headers['transfer-encoding'] !== undefined && ur.headers['content-length'] === undefined;
            if (chunked) raw.push('content-length', String(rb.length));
            const down = headerBytes(`HTTP/1.1 ${ur.statusCode} ${ur.statusMessage}`, raw) + rb.length;
            this.counts.add(kindOf(req.method!, req.url!, req.headers.depth as string | undefined), req.method!, up, down);
            if (process.env.BENCH_TRACE) console.log(`[trace] ${req.method} ${req.headers.depth ?? ''} ${decodeURIComponent(req.url!)} ${ur.statusCode} ↑${up} ↓${down}`);
            const h: Record<string, string | string[]> = {};
            for (let i = 0; i < raw.length; i += 2) h[raw[i]!] = raw[i + 1]!;
            res.writeHead(ur.statusCode ?? 502, ur.statusMessage, h);
            res.end(rb);
          });
          ur.on('error', () => res.destroy());
        });
        out.on('error', () => res.destroy());
        out.end(body);
      });
    });
    this.server.on('connection', () => this.counts.conns++);
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    this.agent.destroy();
  }
}

/** The shared folder, counted at the medium: each call one operation; bytes read down, bytes written up. */
class CountingFolderMedium extends FolderMedium {
  protected depth = 0;

  constructor(
    root: string,
    readonly counts: Counts,
  ) {
    super(root);
  }

  protected async counted<T>(kind: Kind, method: string, fn: () => Promise<T>, bytes: (t: T) => [number, number]): Promise<T> {
    const outer = this.depth === 0;
    this.depth++;
    try {
      const t = await fn();
      if (outer) this.counts.add(kind, method, ...bytes(t));
      return t;
    } finally {
      this.depth--;
    }
  }

  override abs(rel: string): string {
    // the full check hashes a folder's files by path (streamed, not through read()): counted as reads
    if (this.depth === 0) {
      const size = (() => {
        try {
          return fs.statSync(super.abs(rel)).size;
        } catch {
          return 0;
        }
      })();
      this.counts.add('get', 'read', 0, size);
    }
    return super.abs(rel);
  }

  override list(rel: string): Promise<MediumEntry[]> {
    return this.counted('list', 'readdir', () => super.list(rel), () => [0, 0]);
  }
  override stat(rel: string): Promise<MediumStat> {
    return this.counted('stat', 'lstat', () => super.stat(rel), () => [0, 0]);
  }
  override exists(rel: string): Promise<boolean> {
    return this.counted('stat', 'lstat', () => super.exists(rel), () => [0, 0]);
  }
  override read(rel: string, max: number): Promise<Buffer> {
    return this.counted('get', 'read', () => super.read(rel, max), (b) => [0, b.length]);
  }
  override write(rel: string, bytes: Uint8Array, _mode?: WriteMode): Promise<void> {
    return this.counted('put', 'write', () => super.write(rel, bytes), () => [bytes.byteLength, 0]);
  }
}

// ---- the carriers --------------------------------------------------------------------------

interface Carrier {
  name: string;
  short: string;
  counts: Counts;
  /** A fresh connection (each PC has its own), its requests counted. */
  connect(): Medium;
  /** The folder field's text of this location (servers: through the proxy), for the access monitor's check. */
  address?: string;
  login?: { user: string; password: string } | { accessKeyId: string; secretAccessKey: string };
  /** For the folder: its path (the carrier watches it). */
  sharedRoot: string;
  stop(): Promise<void>;
}

async function folderCarrier(work: string): Promise<Carrier> {
  const shared = fs.mkdtempSync(path.join(work, 'srv-folder-'));
  const counts = new Counts();
  return { name: 'folder (local disk)', short: 'folder', counts, connect: () => new CountingFolderMedium(shared, counts), sharedRoot: shared, stop: async () => undefined };
}

async function webdavCarrier(): Promise<Carrier> {
  const server: TestServer = await startLighttpd({ auth: true });
  const proxy = new CountingProxy(new URL(server.url));
  await proxy.start();
  const url = `http://127.0.0.1:${proxy.port}/`;
  const login = { user: server.user!, password: server.password! };
  return {
    name: 'WebDAV (lighttpd + mod_webdav, loopback)',
    short: 'WebDAV',
    counts: proxy.counts,
    connect: () => new WebDavMedium(url, login),
    address: url,
    login,
    sharedRoot: url,
    stop: async () => {
      await proxy.stop();
      await server.stop();
    },
  };
}

async function s3Carrier(): Promise<Carrier> {
  const s = await startS3rver();
  const proxy = new CountingProxy(new URL(s.endpoint));
  await proxy.start();
  const at = { endpoint: `http://127.0.0.1:${proxy.port}`, bucket: s.bucket, prefix: 'praxis', region: s.region };
  const login = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
  return {
    name: 'S3 (s3rver, loopback)',
    short: 'S3',
    counts: proxy.counts,
    connect: () => new S3Medium(at, login),
    address: `s3+http://127.0.0.1:${proxy.port}/${s.bucket}/praxis?region=${s.region}`,
    login,
    sharedRoot: `s3+http://127.0.0.1:${proxy.port}/${s.bucket}/praxis`,
    stop: async () => {
      await proxy.stop();
      await s.stop();
    },
  };
}

/** The carrier with the few handles the bench needs: a round with the full check or a heartbeat now. */
class BenchExchange extends SharedFolderExchange {
  /** The next round is the one every audit period: the full check and the complete listings (every presence read, `objects/` listed). */
  auditNext(): void {
    this.lastAudit = 0;
    this.lastCompleteListing = 0;
  }
  /** As at the start of a day: no server copy counts as verified at its version yet (the full check reads them all). */
  forgetVerified(): void {
    (this.audit as unknown as { verified: Map<string, unknown> }).verified.clear();
  }
  noAuditYet(): void {
    this.lastAudit = Date.now();
    this.lastCompleteListing = Date.now();
  }
  heartbeat(): Promise<void> {
    this.lastPresence = { news: this.lastPresence.news, at: 0 };
    return this.writePresence(true);
  }
}

interface Pc {
  name: string;
  replica: PracticeReplica;
  exchange: BenchExchange;
  medium: Medium;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function practiceRecord(i: number, round: number): ImportRecord {
  return {
    collection: i % 3 === 0 ? 'clients' : i % 3 === 1 ? 'appointments' : 'session-notes',
    id: `r${i}`,
    data: { name: `Klient ${i}`, round, note: `Sitzung ${round}: ${'Stimmung stabil, Schlaf besser. '.repeat(4)}`, date: '2026-11-28', fee: 100 + (i % 50) },
  };
}

async function recordCount(r: PracticeReplica): Promise<number> {
  let n = 0;
  for (const col of ['clients', 'appointments', 'session-notes']) n += (await r.list(col)).length;
  return n;
}

// ---- what is measured per carrier ----------------------------------------------------------

interface Figures {
  carrier: Carrier;
  records: number;
  logFiles: number;
  join: { ms: number; counts: Counts; records: number };
  idle: Counts;
  idleMs: number;
  writer: Counts;
  reader: Counts;
  /** The day's first full check (every copy read) and a later one (a server's copies only where their version changed). */
  firstAudit: Counts;
  audit: Counts;
  presence: Counts;
  /** What another PC's round reads of a rewritten presence (above an idle round). */
  presenceRead: Counts;
  monitor?: Counts;
  monitorMs?: number;
  latency: { median: number; max: number; n: number };
  perLogFile: Counts;
  addedFiles: number;
}

async function measure(c: Carrier, work: string, quick: boolean, log: (s: string) => void): Promise<Figures> {
  const RECORDS = quick ? 2000 : 10000;
  const media: Medium[] = [];
  const connect = () => {
    const m = c.connect();
    media.push(m);
    return m;
  };
  const { header, storeKey } = await createHeader('bench passphrase', { N: 1 << 14, r: 8, p: 1 });
  await ReplicaFolder.writeHeader(connect(), header);
  const open = async (name: string, exchange: Partial<ExchangeOptions> = {}, localRoot?: string): Promise<Pc> => {
    const root = localRoot ?? path.join(fs.mkdtempSync(path.join(work, `srv-${name}-`)), 'replica');
    // the product's seal delay (50 ms) and timings (CloudStorageTimings' defaults)
    const replica = await PracticeReplica.open({ localRoot: root, header, key: storeKey, deviceId: crypto.randomBytes(16).toString('hex'), deviceName: name, userName: 'bench' });
    const medium = connect();
    const ex = new BenchExchange(replica, {
      sharedRoot: c.sharedRoot,
      medium,
      deviceName: name,
      userName: 'bench',
      pollMs: DEFAULT_TIMINGS.pollMs,
      heartbeatMs: DEFAULT_TIMINGS.heartbeatMs,
      auditMs: DEFAULT_TIMINGS.auditMs,
      repairGraceMs: DEFAULT_TIMINGS.repairGraceMs,
      ...exchange,
    });
    return { name, replica, exchange: ex, medium };
  };
  const close = async (pc: Pc) => {
    await pc.exchange.stop();
    await pc.replica.close();
  };
  const counted = async <T>(fn: () => Promise<T>, label = ''): Promise<{ value: T; counts: Counts; ms: number }> => {
    if (process.env.BENCH_TRACE) console.log(`[trace] --- ${c.short} ${label}`);
    const before = c.counts.copy();
    const t = performance.now();
    const value = await fn();
    return { value, ms: performance.now() - t, counts: c.counts.minus(before) };
  };

  // --- the practice's data: RECORDS records from the first PC
  const a = await open('PC1');
  await a.replica.importRecords(Array.from({ length: RECORDS }, (_, i) => practiceRecord(i, 0)));
  await a.replica.sealNow();
  await a.exchange.exchange();
  if (a.exchange.syncStatus.pendingUploads !== 0) throw new Error(`${c.short}: the import was not sent`);
  log(`${c.short}: ${RECORDS} records on the server`);

  // --- the 4-PC practice
  const pcs = [a, await open('PC2'), await open('PC3'), await open('PC4')];
  // every PC has written before (a running practice: each has its own log files, none is empty)
  for (const [i, pc] of pcs.entries()) {
    await pc.exchange.exchange();
    await pc.replica.put('clients', `w${i}`, { name: `erste Änderung ${pc.name}` });
    await pc.replica.sealNow();
  }
  for (let i = 0; i < 2; i++) for (const pc of pcs) await pc.exchange.exchange();
  for (const pc of pcs) if ((await recordCount(pc.replica)) !== RECORDS + pcs.length) throw new Error(`${c.short}: a PC lacks records`);
  const logFiles = () => pcs[0]!.replica.ownLogFiles().length + pcs.slice(1).reduce((s, p) => s + p.replica.ownLogFiles().length, 0);

  const idleRounds = async (rounds: number) => {
    const samples: Counts[] = [];
    const ms: number[] = [];
    // A WebDAV folder's tag is believed once the folder has been unchanged for 2 s by the server's clock
    // (getlastmodified is second-granular): the rounds are counted after 3 s without a write, the state
    // of every idle round after the first second or two of quiet.
    await new Promise((res) => setTimeout(res, 3000));
    for (const pc of pcs) pc.exchange.noAuditYet();
    // one round each, not counted, takes in what changed before (the presences just rewritten)
    for (const pc of pcs) await pc.exchange.exchange();
    for (let r = 0; r < rounds; r++)
      for (const pc of pcs) {
        const x = await counted(() => pc.exchange.exchange(), `idle round ${pc.name}`);
        samples.push(x.counts);
        ms.push(x.ms);
      }
    return { counts: Counts.median(samples), ms: median(ms) };
  };
  // a round in which every PC's presence is fresh (written in the last 13.5 s) and no full check is due
  for (const pc of pcs) await pc.exchange.heartbeat();
  const idle = await idleRounds(quick ? 2 : 4);
  const logFilesAtIdle = logFiles();

  // --- one edit: the writing PC's round, and each other PC's round that receives it (3 edits, from 3 PCs)
  const writers: Counts[] = [];
  const readers: Counts[] = [];
  for (let e = 0; e < 3; e++) {
    for (const pc of pcs) await pc.exchange.heartbeat(); // no presence due in the counted rounds
    for (const pc of pcs) pc.exchange.noAuditYet();
    for (const pc of pcs) await pc.exchange.exchange(); // the rewritten presences taken in: the counted rounds read what the edit changed
    const w = pcs[e]!;
    await w.replica.put('clients', 'r0', { ...practiceRecord(0, e + 1).data });
    await w.replica.sealNow();
    writers.push((await counted(() => w.exchange.exchange(), `edit, writer ${w.name}`)).counts);
    for (const pc of pcs) {
      if (pc === w) continue;
      readers.push((await counted(() => pc.exchange.exchange(), `edit, receiver ${pc.name}`)).counts);
      if ((await pc.replica.get('clients', 'r0'))?.data?.round !== e + 1) throw new Error(`${c.short}: the edit did not arrive`);
    }
  }
  const writer = Counts.median(writers);
  const reader = Counts.median(readers);

  // --- the full check (every 60 s): a round with it, less an idle round; the day's first (nothing
  // verified yet: every copy read) and the next one (a server's copies read only where their version changed)
  const firstAudits: Counts[] = [];
  const audits: Counts[] = [];
  for (const pc of pcs.slice(0, 2)) {
    await pc.exchange.exchange(); // presence news after the edits settled
    pc.exchange.forgetVerified();
    pc.exchange.auditNext();
    firstAudits.push((await counted(() => pc.exchange.exchange(), `first full check ${pc.name}`)).counts.minus(idle.counts));
    pc.exchange.auditNext();
    audits.push((await counted(() => pc.exchange.exchange(), `full check ${pc.name}`)).counts.minus(idle.counts));
  }
  const firstAudit = Counts.median(firstAudits);
  const audit = Counts.median(audits);

  // --- the presence heartbeat (every ~15 s), and what it costs each other PC: its next round reads the
  // changed presence (less an idle round)
  for (const pc of pcs) pc.exchange.noAuditYet();
  for (const pc of pcs) await pc.exchange.exchange(); // settled: nothing changed that a counted round would take in
  const beats: Counts[] = [];
  const seenBeats: Counts[] = [];
  for (const [i, pc] of pcs.entries()) {
    beats.push((await counted(() => pc.exchange.heartbeat(), `presence ${pc.name}`)).counts);
    const other = pcs[(i + 1) % pcs.length]!;
    seenBeats.push((await counted(() => other.exchange.exchange(), `presence of ${pc.name} read by ${other.name}`)).counts.minus(idle.counts));
    for (const o of pcs) if (o !== other && o !== pc) await o.exchange.exchange();
  }
  const presence = Counts.median(beats);
  const presenceRead = Counts.median(seenBeats);

  // --- the running PC's access monitor (every 4 s): as CloudStorageService.probe makes it, a listing of
  // the address on the open store's connection (the header is the round's to read)
  let monitor: Counts | undefined;
  let monitorMs: number | undefined;
  if (c.address) {
    const access = new ServerAccess({ get: async () => undefined, set: async () => undefined, delete: async () => false, accounts: async () => [] } as never, {} as never);
    const ticks: Counts[] = [];
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await counted(() => access.probe(c.address!, { login: c.login, writeTest: false, timeoutMs: DEFAULT_TIMINGS.probeTimeoutMs, medium: pcs[0]!.medium, readHeader: false, expectStoreId: header.storeId }));
      if (r.value.state !== 'available') throw new Error(`${c.short}: the monitor's check says ${r.value.state}`);
      ticks.push(r.counts);
      ms.push(r.ms);
    }
    monitor = Counts.median(ticks);
    monitorMs = median(ms);
  }

  // --- what each further log file in the store adds to an idle round (the listing grows with history)
  const added = quick ? 20 : 60;
  for (let i = 0; i < added; i++) {
    const w = pcs[i % 4]!;
    await w.replica.put('clients', `h${i}`, { name: `Verlauf ${i}` });
    await w.replica.sealNow();
    await w.exchange.exchange();
  }
  for (const pc of pcs) await pc.exchange.exchange();
  for (const pc of pcs) await pc.exchange.heartbeat();
  const idleLater = await idleRounds(2);
  const perLogFile = Counts.scaled([
    [idleLater.counts, 1 / added],
    [idle.counts, -1 / added],
  ]);

  // --- latency: PC1 edits, PC2 (running, real timings) has it in changes$; land at a random moment of its cycle
  for (const pc of pcs.slice(2)) await close(pc);
  const [w, r] = [pcs[0]!, pcs[1]!];
  // the folder carrier with file-system events as in the product; servers poll (no events)
  w.exchange.start();
  r.exchange.start();
  const lat: number[] = [];
  let total = 0;
  for (let i = 0; i < (quick ? 4 : 10); i++) {
    await new Promise((res) => setTimeout(res, 500 + Math.random() * DEFAULT_TIMINGS.pollMs));
    const id = `lat${i}`;
    const got = new Promise<void>((resolve) => {
      const sub = r.replica.changes$.subscribe((ch: RecordChange) => {
        if (ch.origin === 'remote' && ch.record.id === id) {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    const t = performance.now();
    await w.replica.put('clients', id, { i });
    await got;
    lat.push(performance.now() - t);
  }
  total = await recordCount(w.replica);
  await close(w);
  await close(r);
  // --- a new PC joins: empty replica, first round pulls every log file (median of 3). Last, so that
  // the joining PCs' cards and presence do not count in the 4-PC practice's rounds.
  const joins: { ms: number; counts: Counts }[] = [];
  for (let i = -1; i < 3; i++) {
    const r = await counted(async () => {
      const pc = await open(`join${i}`);
      await pc.exchange.exchange();
      return pc;
    });
    const n = await recordCount(r.value.replica);
    if (n !== total) throw new Error(`${c.short}: the joining PC has ${n} records, expected ${total}`);
    if (i >= 0) joins.push({ ms: r.ms, counts: r.counts }); // the first one warms the code paths up, not counted
    await close(r.value);
  }
  const join = { ms: median(joins.map((j) => j.ms)), counts: Counts.median(joins.map((j) => j.counts)), records: total };
  log(`${c.short}: join ${join.ms.toFixed(0)} ms`);

  for (const m of media) m.close?.();
  return {
    carrier: c,
    records: RECORDS,
    logFiles: logFilesAtIdle,
    join,
    idle: idle.counts,
    idleMs: idle.ms,
    writer,
    reader,
    firstAudit,
    audit,
    presence,
    presenceRead,
    monitor,
    monitorMs,
    latency: { median: median(lat), max: Math.max(...lat), n: lat.length },
    perLogFile,
    addedFiles: added,
  };
}

// ---- a working day -------------------------------------------------------------------------

const DAY_MS = 8 * 3600_000;
const EDITS_PER_DAY = 300;
const PCS = 4;
const YEAR_DAYS = 220;

/**
 * How often, in 8 hours, one PC's carrier runs a round, rewrites its presence and runs the full check,
 * and its access monitor checks the server — from the product's timers (CloudStorageTimings' defaults,
 * SharedFolderExchange): a round `pollMs` after the last one ended, and at once after each monitor
 * check that found the server (which clears the waiting poll); presence when 90 % of `heartbeatMs`
 * passed, at a round or at the heartbeat's own tick; the full check at the first round 60 s after the last.
 */
export function dayOfOnePc(roundMs: number, monitorCheckMs: number): { rounds: number; presence: number; audits: number; monitorTicks: number } {
  const { pollMs, heartbeatMs, monitorMs } = DEFAULT_TIMINGS;
  const auditMs = DEFAULT_TIMINGS.auditMs ?? 60_000;
  let rounds = 0;
  let presence = 0;
  let audits = 0;
  let ticks = 0;
  let lastPresence = 0;
  let lastAudit = 0;
  let nextPoll = 0;
  let nextMonitor = 0;
  let nextBeat = heartbeatMs;
  let t = 0;
  while (t < DAY_MS) {
    const tMonitorRound = nextMonitor + monitorCheckMs;
    if (nextBeat <= Math.min(nextPoll, tMonitorRound)) {
      if (nextBeat - lastPresence >= heartbeatMs * 0.9) {
        presence++;
        lastPresence = nextBeat;
      }
      nextBeat += heartbeatMs;
      continue;
    }
    t = Math.min(nextPoll, tMonitorRound);
    if (t === tMonitorRound) {
      ticks++;
      nextMonitor += monitorMs;
    }
    rounds++;
    if (t - lastAudit >= auditMs) {
      audits++;
      lastAudit = t;
    }
    if (t - lastPresence >= heartbeatMs * 0.9) {
      presence++;
      lastPresence = t;
    }
    const end = t + roundMs;
    // a monitor check that lands during the round asks for the next one at once
    while (nextMonitor + monitorCheckMs < end) {
      ticks++;
      nextMonitor += monitorMs;
    }
    nextPoll = end + pollMs;
    t = end;
  }
  return { rounds, presence, audits, monitorTicks: ticks };
}

function perDay(f: Figures): { day: ReturnType<typeof dayOfOnePc>; practice: Counts; parts: { what: string; counts: Counts }[] } {
  const day = dayOfOnePc(f.idleMs, f.monitorMs ?? 0);
  const pc = (x: Counts, n: number): [Counts, number] => [x, n * PCS];
  const parts = [
    { what: `idle rounds (${day.rounds.toLocaleString('en')} per PC)`, counts: Counts.scaled([pc(f.idle, day.rounds)]) },
    { what: `presence rewrites (${day.presence.toLocaleString('en')} per PC; each read by the ${PCS - 1} others)`, counts: Counts.scaled([pc(f.presence, day.presence), pc(f.presenceRead, day.presence * (PCS - 1))]) },
    { what: `full checks (${day.audits} per PC: the day's first reads every copy, the others a server's copies only where their version changed)`, counts: Counts.scaled([pc(f.firstAudit, 1), pc(f.audit, day.audits - 1)]) },
    ...(f.monitor ? [{ what: `access monitor checks (${day.monitorTicks.toLocaleString('en')} per PC)`, counts: Counts.scaled([pc(f.monitor, day.monitorTicks)]) }] : []),
    {
      what: `${EDITS_PER_DAY} edits (above the idle rounds they replace: 1 writer, ${PCS - 1} receivers each)`,
      counts: Counts.scaled([
        [f.writer.minus(f.idle), EDITS_PER_DAY],
        [f.reader.minus(f.idle), EDITS_PER_DAY * (PCS - 1)],
      ]),
    },
  ];
  return { day, practice: Counts.scaled(parts.map((p) => [p.counts, 1])), parts };
}

// ---- formatting ----------------------------------------------------------------------------

const bytes = (x: number) => (Math.abs(x) >= 1 << 30 ? `${(x / (1 << 30)).toFixed(2)} GiB` : Math.abs(x) >= 1 << 20 ? `${(x / (1 << 20)).toFixed(2)} MiB` : Math.abs(x) >= 1024 ? `${(x / 1024).toFixed(1)} KiB` : `${Math.round(x)} B`);
const num = (x: number) => (Math.abs(x) >= 100 || Number.isInteger(x) ? Math.round(x).toLocaleString('en') : x.toFixed(2));
const ms = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(0)} ms`);

function kinds(c: Counts): string {
  const parts = KINDS.filter((k) => Math.round(c.n[k] * 100) !== 0).map((k) => `${num(c.n[k])} ${k}`);
  return `${num(c.requests)}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}
const reqBytes = (c: Counts) => `${kinds(c)}; ↑ ${bytes(c.up)}, ↓ ${bytes(c.down)}${Math.round(c.conns) > 0 ? `; ${num(c.conns)} new connection${Math.round(c.conns) === 1 ? '' : 's'}` : ''}`;
const ratio = (x: number, base: number) => (base > 0 ? `${(x / base).toFixed(x / base >= 10 ? 0 : 1)}×` : '–');

export async function serverFigures(work: string, quick: boolean): Promise<{ section: string; text: string }> {
  const t0 = Date.now();
  const log = (s: string) => console.log(`[servers] ${s}`);
  const figures: Figures[] = [];
  for (const make of [() => folderCarrier(work), webdavCarrier, s3Carrier]) {
    const c = await make();
    try {
      figures.push(await measure(c, work, quick, log));
    } finally {
      await c.stop();
    }
  }
  const base = figures[0]!;
  const head = `| what | ${figures.map((f) => f.carrier.name).join(' | ')} |\n| --- |${figures.map(() => ' --- |').join('')}`;
  const row = (what: string, cell: (f: Figures) => string) => `| ${what} | ${figures.map(cell).join(' | ')} |`;
  const withRatio = (v: (f: Figures) => number, fmt: (f: Figures) => string) => (f: Figures) => (f === base ? fmt(f) : `${fmt(f)} (${ratio(v(f), v(base))})`);
  const days = figures.map(perDay);
  const recs = base.records.toLocaleString('en');
  const table = [
    head,
    row(`a new PC joins (empty replica, first round: every log file), ${base.join.records.toLocaleString('en')} records; median of 3`, withRatio((f) => f.join.ms, (f) => ms(f.join.ms))),
    row('… its requests and bytes', (f) => reqBytes(f.join.counts)),
    row('an edit: the writing PC\'s round (seal, send, presence)', withRatio((f) => f.writer.requests, (f) => reqBytes(f.writer))),
    row('an edit: each other PC\'s round that receives it', withRatio((f) => f.reader.requests, (f) => reqBytes(f.reader))),
    row('… above an idle round: writer / each receiver', (f) => `${reqBytes(f.writer.minus(f.idle))} / ${reqBytes(f.reader.minus(f.idle))}`),
    row(`a remote change → changes$ on another PC (median of ${base.latency.n}, max)`, withRatio((f) => f.latency.median, (f) => `${ms(f.latency.median)}, max ${ms(f.latency.max)}${f === base ? ' (file-system events)' : ' (polling)'}`)),
    row('an idle round of one PC, 4-PC practice (nothing new), median', withRatio((f) => f.idle.requests, (f) => `${reqBytes(f.idle)}; ${ms(f.idleMs)}`)),
    row('… the presence rewrite (every ~15 s)', (f) => reqBytes(f.presence)),
    row('… reading another PC\'s rewritten presence, above an idle round', (f) => reqBytes(f.presenceRead)),
    row('… the day\'s first full check (every copy read and hashed), above an idle round', (f) => reqBytes(f.firstAudit)),
    row('… a later full check (every 60 s; a server\'s copies read again only where their version changed, or after a day)', (f) => reqBytes(f.audit)),
    row('… the access monitor\'s check (every 4 s, on the open store\'s connection)', (f) => (f.monitor ? `${reqBytes(f.monitor)}; ${ms(f.monitorMs!)}` : 'a probe in a child process (not counted)')),
    row('… each further log file in the store adds to every idle round (listings)', (f) => (f === base ? '– (a folder listing\'s bytes are not counted)' : `↓ ${bytes(f.perLogFile.down)}`)),
  ].join('\n');
  const fixedDayRows = dayTable(days, figures);
  const kindsNote = `Kinds: **list** = PROPFIND Depth 1 / ListObjectsV2 / readdir; **stat** = PROPFIND Depth 0 / HEAD / lstat; **get** = GET / read; **put** = PUT / write; **other** = MKCOL, DELETE.`;
  const section = `## Servers (WebDAV, S3) beside the folder

Produced by \`npm run bench\` (or \`npm run bench -- --servers-only\`, which rewrites only this section)${quick ? ' --quick (2,000 records)' : ''} on ${new Date().toISOString().slice(0, 10)} (${figures.length} carriers, ${Math.round((Date.now() - t0) / 1000)} s). The machine is shared and noisy (2 cores, other jobs running): times are medians and vary from run to run; request and byte counts do not depend on the weather. No target is set here; this is a report. Ratios are against the folder.

The practice: ${recs} records imported on PC1, then 4 PCs that have each written once (${base.logFiles} log files in the store when the rounds were counted) with the product's timings (\`CloudStorageTimings\` defaults: round every ${DEFAULT_TIMINGS.pollMs / 1000} s after the last, presence every ${DEFAULT_TIMINGS.heartbeatMs / 1000} s, full check every 60 s, access monitor every ${DEFAULT_TIMINGS.monitorMs / 1000} s). Servers on 127.0.0.1 started by \`test/support/servers.ts\`: lighttpd + mod_webdav with Basic auth, plain http (loopback); s3rver. Every server request goes through a counting proxy (node:http): bytes are on the wire, request/status line, headers and body (no TLS; TLS adds its handshake per new connection and ~30 bytes per record). The folder's figures are file operations on the shared folder counted at the medium (the full check's hashing of a file counts as a read), not network requests: what a sync client uploads and downloads for them is not measured.

${table}

${kindsNote}

### Per working day, 4-PC practice

8 hours, ${EDITS_PER_DAY} edits a day spread over the PCs, the timers above (simulated from the product's timer rules with the measured round and monitor durations). Per day = PCs × (rounds × idle round + presence rewrites × (presence + 3 × reading it) + (the day's first full check + (full checks − 1) × a later full check) + monitor checks × monitor check) + edits × (writer's round + 3 receivers' rounds, each less the idle round it replaces). The store's size is that of this run (${recs} records, ${base.logFiles} log files: a new store); an idle round lists the log folders incrementally (docs/SERVERS.md, "Incremental listing"), a round in each audit period completely (counted with the full check): the last two rows extrapolate the measured per-log-file figure of an idle round linearly (bytes only).

${fixedDayRows}

How each is measured (bench/server-figures.ts): **join** — a PC with an empty replica opens the store and runs one round, in this process, after one such join that is not counted (it warms the code up) (the table above's "cold open" runs in a fresh process); **edit** — PC *n* changes a record and runs a round, then each other PC runs one (3 edits from 3 PCs, medians); **idle round** — every PC's presence fresh, no full check due, nothing new, counted after 3 s without a write (a WebDAV folder's tag is believed once it is 2 s old); **full check** — a round with it (and with the complete listings, every presence read and \`objects/\` listed, which come in the same round each audit period) less an idle round, once with nothing verified yet (the day's first) and once right after (a later one); **latency** — PC1 and PC2 running with the product's timings, PC1 puts a record at a random moment of PC2's cycle, time until PC2's \`changes$\` has it (PC1's 50 ms seal delay included); **per log file** — ${base.addedFiles} more edits (one log file each), then idle rounds again: the difference divided by ${base.addedFiles}.
`;
  const text = [table, '', fixedDayRows].join('\n');
  return { section, text };
}

function dayTable(days: ReturnType<typeof perDay>[], figures: Figures[]): string {
  const labels = ['idle rounds', 'presence rewrites', 'full checks', 'access monitor checks', `${EDITS_PER_DAY} edits`];
  const find = (d: ReturnType<typeof perDay>, l: string) => d.parts.find((p) => p.what.startsWith(l));
  const lines = [
    `| per day, 4-PC practice | ${figures.map((f) => f.carrier.short).join(' | ')} |`,
    `| --- |${figures.map(() => ' --- |').join('')}`,
    ...labels.map((l) => `| ${l} | ${days.map((d) => (find(d, l) ? reqBytes(find(d, l)!.counts) : '–')).join(' | ')} |`),
    `| **all** | ${days.map((d) => `**${reqBytes(d.practice)}**`).join(' | ')} |`,
    `| … and as the store grows: each working day of history (${EDITS_PER_DAY} log files) adds to every later day's idle rounds | ${figures.map((f, i) => (i === 0 ? '–' : `↓ ${bytes(Math.max(0, f.perLogFile.down) * EDITS_PER_DAY * days[i]!.day.rounds * PCS)}`)).join(' | ')} |`,
    `| … a year on (${YEAR_DAYS} working days, ${(YEAR_DAYS * EDITS_PER_DAY).toLocaleString('en')} more log files): idle rounds alone | ${figures.map((f, i) => (i === 0 ? '–' : `↓ ${bytes((f.idle.down + Math.max(0, f.perLogFile.down) * YEAR_DAYS * EDITS_PER_DAY) * days[i]!.day.rounds * PCS)}`)).join(' | ')} |`,
    `| … by method | ${days.map((d) => [...d.practice.byMethod].filter(([, v]) => Math.round(v) > 0).map(([m, v]) => `${m} ${num(v)}`).join(', ')).join(' | ')} |`,
    `| timers per PC in 8 h: rounds / presence rewrites / full checks / monitor checks | ${days.map((d) => `${d.day.rounds.toLocaleString('en')} / ${d.day.presence.toLocaleString('en')} / ${d.day.audits} / ${d.day.monitorTicks.toLocaleString('en')}`).join(' | ')} |`,
  ];
  return lines.join('\n');
}

/** Puts the section into the doc between its markers (added before "## What the profile showed" the first time). */
export function withServerSection(doc: string, section: string): string {
  const block = `${SERVERS_BEGIN}\n${section.trim()}\n${SERVERS_END}`;
  const i = doc.indexOf(SERVERS_BEGIN);
  const j = doc.indexOf(SERVERS_END);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + SERVERS_END.length);
  const at = doc.indexOf('## What the profile showed');
  return at >= 0 ? `${doc.slice(0, at)}${block}\n\n${doc.slice(at)}` : `${doc.trimEnd()}\n\n${block}\n`;
}
