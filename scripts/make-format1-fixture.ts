// Writes test/fixtures/format1/: a small store of format 1 as the code of this commit writes it, for
// the upgrade to format 2 (issue #16, "tested with stores written by today's code"). Run with
// `npx tsx scripts/make-format1-fixture.ts --replace` — but only with format-1 code: the fixture pins
// format 1 as written by the commit named in its expected.json; format-2 code must never regenerate
// it (test/fixtures/format1/README.md). Without --replace it refuses to write over the fixture.
//
// Three PCs in a practice, each with its local replica in its own app-data folder, and the shared
// folder. Everything goes through the code's own API (PracticeReplica, SharedFolderExchange,
// changePassphrase, keyringFromPassphrase), as the store specs drive it; no file is written by hand.
// The story:
//   1. first passphrase: A enters clients, B appointments, C notes; edits (several versions), an
//      attachment, a removed appointment, and a client A and B edited at the same time (a conflict);
//   2. A changes the passphrase; B and C enter the new one; more records and edits, under the new key;
//   3. C goes away (its carrier stops) and goes on working: two log files that are only in its own
//      replica (unsent); meanwhile B edits an appointment that reaches A, not C.
// Then the fixture is copied elsewhere, each PC's replica is opened with keys from the passphrase, and
// what it holds is written to expected.json, before and after an exchange that brings C's changes over.
import * as crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JsonObject } from '../src/host-api';
import { keyringFromPassphrase, type Keyring } from '../src/services/crypto/keyring';
import { createHeader, sealedKeyId } from '../src/services/crypto/store-crypto';
import { Paths, STORE_FORMAT_VERSION, type StoreHeader } from '../src/services/store/format';
import { PracticeReplica } from '../src/services/store/practice-replica';
import { ReplicaFolder } from '../src/services/store/replica-folder';
import { SharedFolderExchange } from '../src/services/store/shared-folder-exchange';
import { FIXTURE_DIR, PCS, copyFixture, emptyDirs, manifestOf, readView, replicaRoot, type Pc, type ReplicaView } from '../test/support/format1-fixture';
import { walk } from '../test/support/files';

// Test passphrases of a fictional store (test data, never a real secret).
const FIRST = 'Teekanne-Nordstrand-2026';
const SECOND = 'Leuchtturm-Kieselbucht-Moewe-4817';

const NAMES: Record<Pc, { name: string; user: string }> = {
  'pc-a': { name: 'Praxis-PC A', user: 'empfang' },
  'pc-b': { name: 'Praxis-PC B', user: 'dr.keller' },
  'pc-c': { name: 'Praxis-PC C', user: 'dr.brandt' },
};

const CLIENTS = [
  'Bergmann, Anna', 'Hoffmann, Lukas', 'Schäfer, Marie', 'Krüger, Jonas', 'Wagner, Lea', 'Becker, Felix',
  'Schulz, Hannah', 'Richter, Paul', 'Wolf, Emilia', 'Neumann, Tim', 'Schwarz, Clara', 'Zimmermann, Ben',
  'Braun, Sophie', 'Hartmann, Noah', 'Lange, Mia', 'Koch, Elias', 'Vogel, Greta', 'Friedrich, Anton',
];
const ORTE = ['Kiel', 'Lübeck', 'Flensburg', 'Husum', 'Eckernförde', 'Schleswig'];
const KASSEN = ['TK', 'AOK Nordwest', 'Barmer', 'DAK-Gesundheit', 'privat'];
const pad = (n: number) => String(n).padStart(2, '0');
const client = (n: number): JsonObject => ({
  name: CLIENTS[n - 1]!,
  geboren: `19${60 + ((n * 7) % 40)}-${pad(1 + (n % 12))}-${pad(1 + ((n * 5) % 28))}`,
  ort: ORTE[n % ORTE.length]!,
  kasse: KASSEN[n % KASSEN.length]!,
});
const appointment = (n: number, day = n, hour = 8 + (n % 9)): JsonObject => ({
  klient: `k-${pad(1 + ((n * 3) % 16))}`,
  beginn: `2026-03-${pad(day)}T${pad(hour)}:00`,
  dauerMin: 50,
  art: n % 4 === 0 ? 'Probatorik' : 'Einzelsitzung',
});
const note = (n: number, text: string): JsonObject => ({ klient: `k-${pad(1 + ((n * 5) % 16))}`, datum: `2026-03-${pad(n + 1)}`, text });

/** A small "PDF" (test data): the attachment of note n-06. */
const ATTACHMENT = Buffer.from('%PDF-1.4\n% Überweisungsschein (fiktive Testdaten)\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n', 'utf8');

interface Dev {
  pc: Pc;
  id: string;
  replica: PracticeReplica;
  exchange: SharedFolderExchange;
}

async function openDev(pc: Pc, id: string, appData: string, shared: string, header: StoreHeader, key: Buffer | Keyring): Promise<Dev> {
  const { name, user } = NAMES[pc];
  const replica = await PracticeReplica.open({ localRoot: replicaRoot(appData, header.storeId), header, key, deviceId: id, deviceName: name, userName: user, sealDelayMs: 60_000 });
  // no timers: every round is started here (heartbeat far away, no watcher)
  const exchange = new SharedFolderExchange(replica, { sharedRoot: shared, deviceName: name, userName: user, pollMs: 100, heartbeatMs: 600_000, watch: false });
  return { pc, id, replica, exchange };
}

/** Seal, then a carrier round, on every device in turn, `rounds` times. */
async function sync(devs: Dev[], rounds = 2): Promise<void> {
  for (let i = 0; i < rounds; i++)
    for (const d of devs) {
      await d.replica.sealNow();
      await d.exchange.exchange();
    }
}

/** The keys a new keychain entry gets from the passphrase (StoreKeys.unlock): the shared folder's and the replica's key files. */
async function keysFor(header: StoreHeader, roots: string[], passphrase: string): Promise<Keyring> {
  const files = new Map<string, Awaited<ReturnType<typeof ReplicaFolder.keyFilesAt>>[number]>();
  for (const r of roots) for (const f of await ReplicaFolder.keyFilesAt(r, header.storeId)) files.set(f.hash, f);
  const r = await keyringFromPassphrase(header, [...files.values()], passphrase);
  if (r.kind !== 'ok') throw new Error(`passphrase: ${r.kind}`);
  return r.keyring;
}

/** What a person does on the settings page's "enter the new passphrase" (as test/services/store/retired-keys.spec.ts). */
async function enterNew(d: Dev, header: StoreHeader): Promise<void> {
  const typed = await keyringFromPassphrase(header, await d.replica.local.readKeyFiles(), SECOND, d.replica.keyring);
  if (typed.kind !== 'ok') throw new Error(`enter-passphrase: ${typed.kind}`);
  for (const id of typed.keyring.ids) d.replica.keyring.add(id, typed.keyring.get(id)!);
  await d.replica.refreshKeys();
  d.exchange.keysChanged();
}

async function write(tmp: string): Promise<{ storeId: string; ids: Record<Pc, string>; attachment: JsonObject }> {
  const shared = path.join(tmp, 'shared');
  fs.mkdirSync(shared);
  const { header, storeKey } = await createHeader(FIRST); // the cost a new store gets (N = 2^17)
  await ReplicaFolder.writeHeader(shared, header);
  const ids = Object.fromEntries(PCS.map((pc) => [pc, crypto.randomBytes(16).toString('hex')])) as Record<Pc, string>;
  const [a, b, c] = await Promise.all(PCS.map((pc) => openDev(pc, ids[pc], path.join(tmp, pc), shared, header, storeKey)));
  const all = [a!, b!, c!];
  const A = a!.replica;
  const B = b!.replica;
  const C = c!.replica;

  // 1. under the first passphrase
  await sync(all);
  for (let n = 1; n <= 16; n++) await A.put('clients', `k-${pad(n)}`, client(n));
  await sync(all);
  for (let n = 1; n <= 10; n++) await B.put('appointments', `t-${pad(n)}`, appointment(n));
  const texts = ['Erstgespräch, Anliegen: Schlafprobleme.', 'Probatorische Sitzung, Fragebögen ausgegeben.', 'Verlauf stabil, Hausaufgabe besprochen.', 'Krisenplan aktualisiert.', 'Abschlussgespräch vereinbart.'];
  for (let n = 1; n <= 5; n++) await C.put('notes', `n-${pad(n)}`, note(n, texts[n - 1]!));
  await sync(all);
  // k-03: four versions by two PCs, in separate log files
  await A.put('clients', 'k-03', { ...client(3), telefon: '0431 5550123' });
  await A.sealNow();
  await A.put('clients', 'k-03', { ...client(3), telefon: '0431 5550123', ort: 'Kiel-Gaarden' });
  await B.put('appointments', 't-02', appointment(2, 3, 14)); // moved
  await B.put('appointments', 't-05', appointment(5, 6, 10)); // moved ...
  await sync(all);
  await C.put('clients', 'k-03', { ...client(3), telefon: '0431 5550123', ort: 'Kiel-Gaarden', kasse: 'Barmer' });
  await B.remove('appointments', 't-05'); // ... and cancelled
  const ref = await A.putAttachment(ATTACHMENT, { name: 'Ueberweisungsschein.pdf', mediaType: 'application/pdf' });
  await A.put('notes', 'n-06', { ...note(6, 'Überweisungsschein eingegangen, siehe Anhang.'), anhang: ref as unknown as JsonObject });
  await sync(all);
  // k-07: A and B edit it at the same time (each sealed, neither has seen the other's): a conflict
  await A.put('clients', 'k-07', { ...client(7), telefon: '04621 555017' });
  await A.sealNow();
  await B.put('clients', 'k-07', { ...client(7), ort: 'Schleswig-Friedrichsberg' });
  await B.sealNow();
  await sync(all);

  // 2. A changes the passphrase; B and C are given the new one
  await A.changePassphrase(SECOND, NAMES['pc-a'].name);
  await sync(all);
  await enterNew(b!, header);
  await enterNew(c!, header);
  await sync(all);
  for (const d of all) if (!d.replica.keyState.upToDate || d.replica.keyState.current === 'header') throw new Error(`${d.pc} is not on the new passphrase`);
  for (const n of [17, 18]) await A.put('clients', `k-${n}`, client(n));
  await A.put('clients', 'k-01', { ...client(1), telefon: '0431 5550101' });
  for (let n = 11; n <= 14; n++) await B.put('appointments', `t-${n}`, appointment(n));
  await B.put('appointments', 't-02', { ...appointment(2, 3, 14), dauerMin: 100, art: 'Doppelsitzung' });
  await C.put('notes', 'n-07', note(7, 'Termin verschoben auf Wunsch der Klientin.'));
  await C.put('notes', 'n-08', note(8, 'Antrag auf Verlängerung vorbereitet.'));
  await sync(all, 3);

  // 3. C goes away: its carrier stops (with everything sent); what it writes now stays in its replica
  await c!.exchange.stop();
  await C.put('notes', 'n-09', note(9, 'Hausbesuch, Notizen unterwegs erfasst.'));
  await C.put('notes', 'n-02', { ...note(2, 'Probatorische Sitzung, Fragebögen ausgegeben.'), nachtrag: 'Fragebögen zurückerhalten.' });
  await C.sealNow();
  await C.put('clients', 'k-12', { ...client(12), telefon: '0461 5550112' });
  await C.put('notes', 'n-10', note(10, 'Supervision: Fall besprochen.'));
  await C.close(); // seals the second file; nothing is sent
  // meanwhile at the practice
  await B.put('appointments', 't-12', { ...appointment(12), beginn: '2026-03-20T16:00' });
  await sync([a!, b!], 2);
  for (const d of [a!, b!]) {
    await d.replica.sealNow();
    await d.exchange.stop();
    await d.replica.close();
  }
  return { storeId: header.storeId, ids, attachment: ref as unknown as JsonObject };
}

/** JSON with one-space indents, where a value fits in 240 characters on one line (one version of a record): smaller, and a diff shows what changed. */
function pretty(v: unknown, indent = ''): string {
  const flat = JSON.stringify(v);
  if (v === null || typeof v !== 'object' || flat.length + indent.length <= 240) return flat;
  const inner = indent + ' ';
  if (Array.isArray(v)) return `[\n${v.map((x) => inner + pretty(x, inner)).join(',\n')}\n${indent}]`;
  return `{\n${Object.entries(v).map(([k, x]) => `${inner}${JSON.stringify(k)}: ${pretty(x, inner)}`).join(',\n')}\n${indent}}`;
}

/** Opens a copy of the fixture as a PC would with a new keychain entry: its own header copy, keys from the current passphrase. */
async function openCopy(root: string, storeId: string, ids: Record<Pc, string>): Promise<Dev[]> {
  const shared = path.join(root, 'shared');
  const out: Dev[] = [];
  for (const pc of PCS) {
    const local = replicaRoot(path.join(root, pc), storeId);
    const hdr = await ReplicaFolder.readHeader(local);
    if (hdr.kind !== 'ok') throw new Error(`${pc}: header ${hdr.kind}`);
    out.push(await openDev(pc, ids[pc], path.join(root, pc), shared, hdr.header, await keysFor(hdr.header, [shared, local], SECOND)));
  }
  return out;
}

async function main(): Promise<void> {
  // The fixture pins format 1 as one commit's code wrote it: never rewritten by code of another format,
  // and never by accident (an upgrade test that passes on a regenerated fixture proves nothing).
  if ((STORE_FORMAT_VERSION as number) !== 1) throw new Error(`this code writes store format ${STORE_FORMAT_VERSION}: the format-1 fixture is written only by format-1 code (README.md there)`);
  if (fs.existsSync(path.join(FIXTURE_DIR, 'expected.json')) && !process.argv.includes('--replace'))
    throw new Error('test/fixtures/format1 exists: it pins what the code of its commit wrote. To write it anew anyway (format-1 code only), pass --replace.');
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim();
  if (dirty) throw new Error(`src/ has uncommitted changes: the fixture must be written by a commit's code\n${dirty}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'format1-write-'));
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'format1-read-'));
  try {
    const { storeId, ids, attachment } = await write(tmp);
    for (const part of ['shared', ...PCS]) fs.rmSync(path.join(FIXTURE_DIR, part), { recursive: true, force: true });
    fs.mkdirSync(FIXTURE_DIR, { recursive: true });
    copyFixture(FIXTURE_DIR, tmp);
    const empty = emptyDirs(FIXTURE_DIR);
    fs.writeFileSync(path.join(FIXTURE_DIR, 'MANIFEST.sha256'), manifestOf(FIXTURE_DIR));

    // what today's code reads in it (on a copy)
    copyFixture(copy, FIXTURE_DIR, empty);
    const devs = await openCopy(copy, storeId, ids);
    const [a, b, c] = devs as [Dev, Dev, Dev];
    const keys = new Set<string>();
    for (const d of devs) for (const col of ['appointments', 'clients', 'notes']) for (const r of await d.replica.list(col)) keys.add(`${col}/${r.id}`);
    keys.add('appointments/t-05'); // removed: in no list
    const views: Record<string, ReplicaView> = {};
    for (const d of devs) views[d.pc] = await readView(d.replica, [...keys]);

    // C's changes that the shared folder does not hold
    const sharedFolder = new ReplicaFolder(path.join(copy, 'shared'), storeId, c.replica.keyring, true);
    const inShared = new Set((await sharedFolder.listSegments(c.id)).map((f) => f.hash));
    const unsent = (await c.replica.local.listSegments(c.id)).filter((f) => !inShared.has(f.hash));
    const unsentVersions: string[] = [];
    for (const f of unsent) unsentVersions.push(...(await c.replica.local.readSegment(f)).changes.map((ch) => `${ch.col}/${ch.id} ${ch.ver}`));
    const pendingUploads = c.exchange.pendingUploads();

    // every log file: which key sealed it, how many changes, which folders hold it
    const logFiles: { path: string; device: Pc; key: string; changes: number; in: string[] }[] = [];
    for (const part of ['shared', ...PCS]) {
      const root = part === 'shared' ? path.join(copy, 'shared') : replicaRoot(path.join(copy, part), storeId);
      for (const rel of walk(root).filter((f) => /^devices\/[0-9a-f]{32}\/log\//.test(f))) {
        let e = logFiles.find((l) => l.path === rel);
        if (!e) {
          const bytes = fs.readFileSync(path.join(root, rel));
          const [, dev, , name] = rel.split('/') as [string, string, string, string];
          const seg = await new ReplicaFolder(root, storeId, c.replica.keyring, true).readSegment({ device: dev, seq: Number(name.slice(0, 10)), hash: name.slice(11) });
          e = { path: rel, device: PCS.find((pc) => ids[pc] === dev)!, key: sealedKeyId(bytes)!, changes: seg.changes.length, in: [] };
          logFiles.push(e);
        }
        e.in.push(part);
      }
    }
    logFiles.sort((x, y) => (x.path < y.path ? -1 : 1));

    await sync([c, a, b], 2);
    const converged: Record<string, ReplicaView> = {};
    for (const d of devs) converged[d.pc] = await readView(d.replica, [...keys]);
    const j = (v: unknown) => JSON.stringify(v);
    if (j(converged['pc-a']) !== j(converged['pc-b']) || j(converged['pc-a']) !== j(converged['pc-c'])) throw new Error('the three PCs did not converge');
    if (c.exchange.pendingUploads() !== 0) throw new Error('C still has changes to send');
    const bad = devs.flatMap((d) => d.replica.badFiles.map((f) => `${d.pc}: ${f.path} ${f.reason}`));
    if (bad.length) throw new Error(`bad files:\n${bad.join('\n')}`);
    for (const d of devs) await d.replica.close();

    const expected = {
      about: 'What the format-1 fixture holds as the code of `writtenBy` reads it: see README.md. Written by scripts/make-format1-fixture.ts; never edit by hand.',
      writtenBy: commit,
      storeId,
      devices: Object.fromEntries(PCS.map((pc) => [pc, { id: ids[pc], ...NAMES[pc] }])),
      keys: { first: 'header', current: a.replica.keyState.current },
      attachment: { record: 'notes/n-06', ref: attachment, sha256: crypto.createHash('sha256').update(ATTACHMENT).digest('hex') },
      unsentOnC: { logFiles: unsent.map((f) => Paths.segment(f.device, f.seq, f.hash)), changes: unsentVersions, pendingUploads },
      logFiles,
      emptyDirs: empty,
      views: { ...views, converged: converged['pc-a'] },
    };
    fs.writeFileSync(path.join(FIXTURE_DIR, 'expected.json'), pretty(expected) + '\n');
    console.log(`test/fixtures/format1 written by ${commit}: store ${storeId}, ${logFiles.length} log files, ${unsent.length} unsent on C (${pendingUploads} changes)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
