// `npm run bench -- --decade [--format 2] [--days N] [--records N] [--checkpoints N]`: years of a 4-PC
// practice, on the format of version 1 (the baseline issue #16 measures its format 2 against) or on
// format 2. Each PC is a process of its own (bench/decade-pc.ts), all on one shared folder, driven by
// this one over IPC. Each working day 300 edits of random records, spread over the 4 PCs, each its own
// log file (at human pace every edit is sealed on its own: the seal delay is 50 ms); per "hour" (30
// edits) the PCs make their share of the edits at the same time, then all run an exchange round at the
// same time (sending theirs, taking in the others'). At checkpoints the PCs exchange until nothing is
// left to send or take in, and it measures the shared folder (files, the fullest folder, bytes against
// what the live records and their history take compressed), a new PC's join, a warm open and its peak
// RSS (fresh processes), history() of the most edited record, and the FAT32 entries of the fullest log
// folder. Then it states each figure's growth per 100,000 changes and where a straight line puts it at
// 1,000,000 changes (a decade at 300 edits a working day), and rewrites the "Ten years" section of
// docs/PERFORMANCE.md.
//
// The records are made up here, from seeded random numbers (runs repeat): a name, a date, a fee, a
// diagnosis code and a note of 40–160 words from a vocabulary of 2,000 German-looking words built of
// syllables, frequent words short (Zipf's law), so that they compress about as German prose does; an
// edit replaces a record's note with a new one and sets its date.
//
// What it leaves out: the sync client (all PCs share one folder, as a synced folder looks once the
// client has caught up; the cloud simulator's replicator does not scale to 100,000 files); attachments;
// passphrase changes. The edits are timed as fast as the machine goes, not at human pace (times of
// day do not matter to any figure here). Meant for TMPDIR on a tmpfs (README): it measures counts,
// sizes and open times, and a million edits' fsyncs would otherwise take most of its time.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import type { ImportRecord } from '../src/host-api';
import { createHeader } from '../src/services/crypto/store-crypto';
import { ReplicaFolder } from '../src/services/store/replica-folder';
import { PACK_MIN_FILES } from '../src/services/store/shared-folder-exchange';
import type { MeasureReply, PcRequest, RoundReply } from './decade-pc';

export const DECADE_BEGIN = '<!-- decade:begin (npm run bench -- --decade rewrites this section) -->';
export const DECADE_END = '<!-- decade:end -->';
export const DECADE2_BEGIN = '<!-- decade2:begin (npm run bench -- --decade --format 2 rewrites this section) -->';
export const DECADE2_END = '<!-- decade2:end -->';
export const decadeMarkers = (format: 1 | 2) => (format === 2 ? { begin: DECADE2_BEGIN, end: DECADE2_END } : { begin: DECADE_BEGIN, end: DECADE_END });

const PCS = 4;
const EDITS_PER_DAY = 300;
const EDITS_PER_HOUR = 30;
const DECADE_CHANGES = 1_000_000;
/** FAT32: directory entries per folder, and what one format-1 log file name (75 characters) takes. */
const FAT_ENTRIES = 65_534;
const FAT_PER_LOG_FILE = 7;
/** Rounds of "exchange until quiet" before a checkpoint gives up waiting (and says so). */
const QUIET_ROUNDS = 20;

interface Checkpoint {
  day: number;
  changes: number;
  files: number;
  fullest: { rel: string; entries: number };
  bytes: number;
  liveCompressed: number;
  historyCompressed: number;
  joinMs: number;
  joinRssMiB: number;
  warmMs: number;
  warmRssMiB: number;
  historyMs: number;
  historyVersions: number;
}

interface DecadeOptions {
  days: number;
  records: number;
  format: 1 | 2;
  /** how many checkpoints (every days/N working days, and the last day); 4 unless given */
  checkpoints?: number;
  /** After each checkpoint: the section as far as the run got (a long run that is stopped keeps what it measured). */
  onCheckpoint?: (section: string) => void;
}

/** What the made-up records are like, for the section's text. */
interface RecordFigures {
  /** plain bytes ÷ gzip bytes of the live records' JSON at the last checkpoint */
  ratio: number;
  /** mean bytes of one record's JSON there */
  meanBytes: number;
}

// ---- the records ------------------------------------------------------------------------------

/** A small seeded generator (the bench's since its first version): the same numbers on every run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296;
}

const ONSET = ['', '', 'b', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'w', 'z', 'sch', 'st', 'br', 'gr', 'kr', 'tr', 'fr', 'pf', 'bl', 'fl', 'sp', 'schw', 'v'];
const NUCLEUS = ['a', 'e', 'i', 'o', 'u', 'e', 'e', 'a', 'ei', 'au', 'ie', 'ä', 'ö', 'ü', 'eu'];
const CODA = ['', '', '', 'n', 'r', 'l', 's', 't', 'ch', 'ng', 'nd', 'st', 'rt', 'ck', 'm', 'tz', 'ss', 'ft', 'cht'];
const SUFFIX = ['', '', '', '', 'en', 'er', 'ung', 'keit', 'lich', 'ig', 'heit', 'isch', 'chen', 'te', 'ten'];
const DIAGNOSES = ['F32.0', 'F32.1', 'F32.2', 'F33.0', 'F33.1', 'F34.1', 'F40.1', 'F41.0', 'F41.1', 'F41.2', 'F42.1', 'F43.1', 'F43.2', 'F45.0', 'F45.41', 'F50.2', 'F60.3', 'F10.2'];
const VOCABULARY = 2000;
const upper = (w: string) => w[0]!.toUpperCase() + w.slice(1);

/**
 * Notes of German-looking prose: a vocabulary of 2,000 words, each of 1–4 syllables (onset, vowel,
 * coda) and some with a German ending, about a third capitalised like nouns; drawn by Zipf's law
 * (the r-th word with weight 1/r^0.9), the frequent ones mostly the short ones, as in real text;
 * sentences end with a full stop after ~11 words on average. Its gzip ratio comes out at about 2.9×, as
 * that of German prose (2.5–3.5×); the bench prints it.
 */
class Notes {
  private readonly words: string[];
  private readonly cumulative: number[] = [];
  private readonly total: number;
  private readonly firstNames: string[];
  private readonly lastNames: string[];

  constructor(private readonly rng: () => number) {
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)]!;
    const syllables = (n: number) => {
      let w = '';
      for (let k = 0; k < n; k++) w += pick(ONSET) + pick(NUCLEUS) + pick(CODA);
      return w;
    };
    const vocabulary = new Set<string>();
    while (vocabulary.size < VOCABULARY) {
      const n = 1 + Math.floor(rng() * 3) + (rng() < 0.25 ? 1 : 0);
      const w = syllables(n) + (n > 1 ? pick(SUFFIX) : '');
      if (w.length >= 2) vocabulary.add(rng() < 0.3 && w.length > 3 ? upper(w) : w);
    }
    // frequent words short, but not strictly so
    this.words = [...vocabulary]
      .map((w) => ({ w, k: w.length + rng() * 10 }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.w);
    let t = 0;
    for (let r = 0; r < this.words.length; r++) this.cumulative.push((t += 1 / Math.pow(r + 1, 0.9)));
    this.total = t;
    this.firstNames = Array.from({ length: 200 }, () => upper(syllables(2)));
    this.lastNames = Array.from({ length: 2000 }, () => upper(syllables(2 + Math.floor(rng() * 2)) + pick(['', '', 'er', 'mann', 'ner', 'ke'])));
  }

  private word(): string {
    const x = this.rng() * this.total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (this.cumulative[m]! < x) lo = m + 1;
      else hi = m;
    }
    return this.words[lo]!;
  }

  /** A note of 40–160 words. */
  note(): string {
    const n = 40 + Math.floor(this.rng() * 121);
    const out: string[] = [];
    let start = true;
    for (let k = 0; k < n; k++) {
      let w = this.word();
      if (start) w = upper(w);
      start = false;
      if (k === n - 1 || this.rng() < 0.09) {
        w += '.';
        start = true;
      } else if (this.rng() < 0.05) w += ',';
      out.push(w);
    }
    return out.join(' ');
  }

  /** Record i's fields that no edit changes (its own seed: the same whichever edits come first). */
  fixed(i: number): { name: string; diagnosis: string; fee: number } {
    const r = seeded(Math.imul(i + 1, 0x9e3779b1));
    return { name: `${this.firstNames[Math.floor(r() * this.firstNames.length)]} ${this.lastNames[Math.floor(r() * this.lastNames.length)]}`, diagnosis: DIAGNOSES[Math.floor(r() * DIAGNOSES.length)]!, fee: 80 + 5 * Math.floor(r() * 15) };
  }
}

const collectionOf = (i: number) => (i % 3 === 0 ? 'clients' : i % 3 === 1 ? 'appointments' : 'session-notes');

/** The date of working day `day` (day 0: the import), five working days a week from Monday 2027-01-04. */
function dateOf(day: number): string {
  const d = new Date(Date.UTC(2027, 0, 4) + (Math.floor(day / 5) * 7 + (day % 5)) * 86_400_000);
  return d.toISOString().slice(0, 10);
}

/** Record i as written on `day`: its fixed fields, that day's date, and a new note. */
function record(notes: Notes, i: number, day: number): ImportRecord {
  const { name, diagnosis, fee } = notes.fixed(i);
  return { collection: collectionOf(i), id: `r${i}`, data: { name, date: dateOf(day), fee, diagnosis, note: notes.note() } };
}

/** Records as the decade's (a note of 40–160 German-looking words, ~840 bytes of JSON): record i as written in round `round` (a working day). */
export function realisticRecords(): (i: number, round: number) => ImportRecord {
  const notes = new Notes(seeded(0x5eed));
  return (i, round) => record(notes, i, round);
}

// ---- the PCs ----------------------------------------------------------------------------------

/** The PCs' processes run the TypeScript sources as the tsx command runs the bench: its CommonJS hook and its ESM loader. */
const TSX = ['--require', require.resolve('tsx/preflight'), '--import', pathToFileURL(require.resolve('tsx')).href];

/** A PC's process, asked one request at a time. */
class PcProcess {
  readonly child: ChildProcess;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited: Error | undefined;
  /** the process's CPU time (all its threads) when it last answered */
  cpuMs = 0;

  constructor(readonly name: string) {
    // its own heap large enough for 100,000 records and their heads
    this.child = fork(path.join(__dirname, 'decade-pc.ts'), [], { cwd: path.join(__dirname, '..'), execArgv: [...TSX, '--max-old-space-size=4096', ...(process.env.DECADE_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.DECADE_PROF] : [])], stdio: ['ignore', 2, 2, 'ipc'] });
    this.child.on('message', (m: { seq: number; result?: unknown; error?: string; cpuMs: number }) => {
      this.cpuMs = m.cpuMs;
      const w = this.waiting.get(m.seq);
      this.waiting.delete(m.seq);
      if (m.error !== undefined) w?.reject(new Error(`${name}: ${m.error}`));
      else w?.resolve(m.result);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(`${name}'s process ended (${code ?? signal})`);
      for (const w of this.waiting.values()) w.reject(this.exited);
      this.waiting.clear();
    });
  }

  ask<T>(req: PcRequest): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ seq, req });
    });
  }
}

// ---- the shared folder and the opens ----------------------------------------------------------

/** Every file below `root` (relative), and the folder with the most entries. */
function survey(root: string): { files: number; bytes: number; fullest: { rel: string; entries: number }; fullestLog: number } {
  let files = 0;
  let bytes = 0;
  let fullest = { rel: '', entries: 0 };
  let fullestLog = 0;
  const walk = (rel: string) => {
    const entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    if (entries.length > fullest.entries) fullest = { rel: rel || '.', entries: entries.length };
    if (/[\\/]log$/.test(rel)) fullestLog = Math.max(fullestLog, entries.length);
    for (const e of entries) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) {
        files++;
        bytes += fs.statSync(path.join(root, r)).size;
      }
    }
  };
  walk('');
  return { files, bytes, fullest, fullestLog };
}

function openInChild(args: Record<string, unknown>): { ms: number; rssMiB: number; records: number } {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'open-child.js')], { input: JSON.stringify(args), encoding: 'utf8', maxBuffer: 1 << 20, timeout: 900_000 });
  return JSON.parse(out.trim().split('\n').pop()!) as { ms: number; rssMiB: number; records: number };
}

const mib = (b: number) => (Math.abs(b) >= 1048576 ? `${(b / 1048576).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`);
const int = (n: number) => Math.round(n).toLocaleString('en');

export async function decadeFigures(work: string, opts: DecadeOptions): Promise<{ text: string; section: string }> {
  const t0 = Date.now();
  // the join and the warm open run bench/open-child.js on the built code
  if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'services', 'store', 'practice-replica.js'))) throw new Error('bench/open-child.js opens on the built code: run `npm run build` first (`npm run bench` does)');
  const shared = fs.mkdtempSync(path.join(work, 'decade-shared-'));
  const { header, storeKey } = await createHeader('bench passphrase', { N: 1 << 14, r: 8, p: 1 });
  const key = storeKey.toString('base64');
  await ReplicaFolder.writeHeader(shared, header);
  const pcs = Array.from({ length: PCS }, (_, i) => ({ proc: new PcProcess(`PC${i + 1}`), localRoot: path.join(fs.mkdtempSync(path.join(work, `decade-pc${i + 1}-`)), 'replica'), id: crypto.randomBytes(16).toString('hex') }));
  try {
    await Promise.all(pcs.map((pc, i) => pc.proc.ask({ op: 'open', localRoot: pc.localRoot, sharedRoot: shared, header, key, deviceId: pc.id, deviceName: `PC${i + 1}`, format: opts.format })));
    const cpu = () => pcs.reduce((a, pc) => a + pc.proc.cpuMs, 0);
    const all = <T>(req: PcRequest) => Promise.all(pcs.map((pc) => pc.proc.ask<T>(req)));
    // every change's JSON goes through one gzip stream (the history compressed: its bytes so far at each
    // checkpoint); the live records are kept as JSON, gzipped at each checkpoint
    let historyBytes = 0;
    const history = zlib.createGzip();
    history.on('data', (b: Buffer) => (historyBytes += b.length));
    const keep = async (r: ImportRecord, live: Map<string, string>) => {
      const s = JSON.stringify(r);
      live.set(`${r.collection}/${r.id}`, s);
      if (!history.write(`${s}\n`)) await once(history, 'drain');
    };
    const live = new Map<string, string>();
    // the records' words and notes from their own generator, so the records edited are those of every run before
    const notes = new Notes(seeded(0x5eed));
    const PART = 2000;
    for (let a = 0; a < opts.records; a += PART) {
      const part: ImportRecord[] = [];
      for (let i = a; i < Math.min(opts.records, a + PART); i++) {
        const r = record(notes, i, 0);
        part.push(r);
        await keep(r, live);
      }
      await pcs[0]!.proc.ask({ op: 'import', records: part, last: a + PART >= opts.records });
    }
    await quiet();
    const rng = seeded(0x9e3779b9);
    const edits = new Map<number, number>();
    const checkpoints: Checkpoint[] = [];
    const every = Math.max(1, Math.floor(opts.days / (opts.checkpoints ?? 4)));
    let n = 0;
    let editMs = 0;
    const spent = { edits: 0, rounds: 0, cpu: 0, own: 0 };
    let lastReport = { n: 0, ms: 0, ...spent };
    let figures: RecordFigures = { ratio: 0, meanBytes: 0 };
    for (let day = 1; day <= opts.days; day++) {
      const d0 = performance.now();
      for (let hour = 0; hour < EDITS_PER_DAY / EDITS_PER_HOUR; hour++) {
        // the hour's edits, each PC's share made at the same time as the others', then an exchange round of all at once
        const shares: ImportRecord[][] = pcs.map(() => []);
        for (let e = hour * EDITS_PER_HOUR; e < (hour + 1) * EDITS_PER_HOUR; e++) {
          const i = Math.floor(rng() * opts.records);
          edits.set(i, (edits.get(i) ?? 0) + 1);
          const r = record(notes, i, day);
          shares[e % PCS]!.push(r);
          n++;
          await keep(r, live);
        }
        const c0 = cpu();
        const o0 = process.cpuUsage();
        const e0 = performance.now();
        await Promise.all(pcs.map((pc, k) => (shares[k]!.length ? pc.proc.ask({ op: 'edits', edits: shares[k]! }) : undefined)));
        const x0 = performance.now();
        await all<RoundReply>({ op: 'exchange' });
        spent.edits += x0 - e0;
        spent.rounds += performance.now() - x0;
        spent.cpu += cpu() - c0;
        const o = process.cpuUsage(o0);
        spent.own += (o.user + o.system) / 1000;
      }
      editMs += performance.now() - d0;
      if (day % 10 === 0) {
        const since = { ms: editMs - lastReport.ms, edits: spent.edits - lastReport.edits, rounds: spent.rounds - lastReport.rounds, cpu: spent.cpu - lastReport.cpu, own: spent.own - lastReport.own };
        const left = ((opts.days - day) * EDITS_PER_DAY) / (n / editMs) / 60_000;
        process.stderr.write(
          `[decade] day ${day}: ${int(n)} edits, ${int(((n - lastReport.n) * 1000) / since.ms)} changes/s (last 10 days: ${Math.round((100 * since.edits) / since.ms)}% in edits, ${Math.round((100 * since.rounds) / since.ms)}% in exchange rounds, the PCs' processes ${(since.cpu / since.ms).toFixed(2)} cores, this one ${(since.own / since.ms).toFixed(2)}), ${int((n * 1000) / editMs)} changes/s since day 1 (checkpoints apart), ${Math.round((Date.now() - t0) / 1000)} s in all, ~${int(left)} min of edits to day ${opts.days}\n`,
        );
        lastReport = { n, ms: editMs, ...spent };
      }
      if (day % every !== 0 && day !== opts.days) continue;
      const { rounds, changes } = await quiet();
      const s = survey(shared);
      // the most edited record's history and a fresh snapshot, on PC1
      let top = 0;
      for (const [i, c] of edits) if (c > (edits.get(top) ?? 0)) top = i;
      const m = await pcs[0]!.proc.ask<MeasureReply>({ op: 'measure', collection: collectionOf(top), id: `r${top}` });
      // a warm open of PC1's replica (a copy, with that snapshot; PC1 is idle, waiting for its next request) and a new PC's join, in fresh processes
      const copy = path.join(fs.mkdtempSync(path.join(work, 'decade-warm-')), 'replica');
      fs.cpSync(pcs[0]!.localRoot, copy, { recursive: true });
      fs.rmSync(path.join(copy, 'replica.lock'), { recursive: true, force: true });
      const warm = openInChild({ header, key, deviceId: pcs[0]!.id, localRoot: copy, mode: 'warm' });
      fs.rmSync(path.dirname(copy), { recursive: true, force: true });
      const joinRoot = path.join(fs.mkdtempSync(path.join(work, 'decade-join-')), 'replica');
      const joinId = crypto.randomBytes(16).toString('hex');
      const join = openInChild({ header, key, deviceId: joinId, localRoot: joinRoot, sharedRoot: shared, mode: 'cold' });
      // the measuring PC leaves again without a trace: left in the folder, it would be a PC the others wait
      // for (format 2: 60 days) that acknowledged only what it saw while it was there
      fs.rmSync(path.join(shared, 'devices', joinId), { recursive: true, force: true });
      fs.rmSync(path.dirname(joinRoot), { recursive: true, force: true });
      if (warm.records !== live.size || join.records !== live.size) throw new Error(`open saw ${warm.records} / ${join.records} records, expected ${live.size}`);
      await new Promise<void>((resolve) => history.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
      await new Promise((resolve) => setImmediate(resolve));
      const plain = Buffer.from([...live.values()].join('\n'));
      const liveCompressed = zlib.gzipSync(plain).length;
      figures = { ratio: plain.length / liveCompressed, meanBytes: plain.length / live.size };
      const cp: Checkpoint = {
        day,
        changes: m.changes,
        files: s.files,
        fullest: { rel: s.fullest.rel.replace(/[0-9a-f]{32}/, '<PC>'), entries: s.fullest.entries },
        bytes: s.bytes,
        liveCompressed,
        historyCompressed: historyBytes + 8, // and the gzip trailer
        joinMs: join.ms,
        joinRssMiB: join.rssMiB,
        warmMs: warm.ms,
        warmRssMiB: warm.rssMiB,
        historyMs: m.historyMs,
        historyVersions: m.versions,
      };
      checkpoints.push(cp);
      opts.onCheckpoint?.(render(checkpoints, opts, Math.round((Date.now() - t0) / 1000), figures).section);
      if (changes.some((c) => c !== m.changes)) process.stderr.write(`[decade] day ${day}: the PCs hold ${changes.join(' / ')} changes\n`);
      process.stderr.write(
        `[decade] day ${day}: ${int(m.changes)} changes, ${int(s.files)} files, fullest folder ${s.fullest.entries} entries, ${mib(s.bytes)} (${(s.bytes / cp.historyCompressed).toFixed(1)}× the records and their history compressed), join ${Math.round(join.ms)} ms, warm open ${Math.round(warm.ms)} ms / ${warm.rssMiB} MiB, history() ${m.historyMs.toFixed(1)} ms; quiet after ${rounds} rounds; records ${Math.round(figures.meanBytes)} bytes of JSON each, gzip ${figures.ratio.toFixed(2)}×\n`,
      );
    }
    await all({ op: 'close' });
    history.end();
    return render(checkpoints, opts, Math.round((Date.now() - t0) / 1000), figures);
  } finally {
    for (const pc of pcs) if (pc.proc.child.exitCode === null && pc.proc.child.signalCode === null) pc.proc.child.kill();
  }

  /**
   * Exchange rounds of all PCs at once until the practice is quiet: nothing left to send, every PC holding
   * the same changes as after the round before, and no file written or removed in the shared folder
   * (format 2's packing and removing done for now).
   */
  async function quiet(): Promise<{ rounds: number; changes: number[] }> {
    let before: RoundReply[] | undefined;
    for (let round = 1; ; round++) {
      const after = await Promise.all(pcs.map((pc) => pc.proc.ask<RoundReply>({ op: 'exchange' })));
      const still = before && after.every((r, k) => r.pending === 0 && r.changes === after[0]!.changes && r.changes === before![k]!.changes && r.written === before![k]!.written && r.removed === before![k]!.removed);
      const unwell = after.map((r, k) => (r.health !== 'ok' ? `PC${k + 1}: ${r.health}` : '')).filter(Boolean);
      if (still || round >= QUIET_ROUNDS) {
        if (!still || unwell.length) process.stderr.write(`[decade] not quiet after ${round} rounds${unwell.length ? ` (${unwell.join(', ')})` : ''}: pending ${after.map((r) => r.pending).join(' / ')}, changes ${after.map((r) => r.changes).join(' / ')}\n`);
        return { rounds: round, changes: after.map((r) => r.changes) };
      }
      before = after;
    }
  }
}

function render(cps: Checkpoint[], opts: DecadeOptions, seconds: number, records: RecordFigures): { text: string; section: string } {
  const first = cps[0]!;
  const last = cps[cps.length - 1]!;
  const span = last.changes - first.changes;
  /** Growth per 100,000 changes between the first and last checkpoint, and the straight line's value at 1,000,000. */
  const line = (f: (c: Checkpoint) => number, fmt: (x: number) => string) => {
    if (span <= 0) return { per: '–', at: '–' };
    const slope = (f(last) - f(first)) / span;
    return { per: fmt(slope * 100_000), at: fmt(f(last) + slope * (DECADE_CHANGES - last.changes)) };
  };
  const rows: [string, (c: Checkpoint) => string, ReturnType<typeof line> | undefined][] = [
    ['files in the shared folder', (c) => int(c.files), line((c) => c.files, int)],
    ['the fullest folder (entries)', (c) => `${int(c.fullest.entries)} (${c.fullest.rel})`, line((c) => c.fullest.entries, int)],
    ['… FAT32 entries it takes (of 65,534)', (c) => int(c.fullest.entries * FAT_PER_LOG_FILE), line((c) => c.fullest.entries * FAT_PER_LOG_FILE, int)],
    ['bytes in the shared folder', (c) => mib(c.bytes), line((c) => c.bytes, mib)],
    ['… the live records compressed / with their history compressed', (c) => `${mib(c.liveCompressed)} / ${mib(c.historyCompressed)}`, undefined],
    ['… the shared folder ÷ (live records and history, compressed)', (c) => `${(c.bytes / c.historyCompressed).toFixed(1)}×`, undefined],
    ['a new PC joins', (c) => `${int(c.joinMs)} ms, peak RSS ${c.joinRssMiB} MiB`, line((c) => c.joinMs, (x) => `${int(x)} ms`)],
    ['warm open (snapshot)', (c) => `${int(c.warmMs)} ms, peak RSS ${c.warmRssMiB} MiB`, line((c) => c.warmMs, (x) => `${int(x)} ms`)],
    ['… its peak RSS', (c) => `${c.warmRssMiB} MiB`, line((c) => c.warmRssMiB, (x) => `${int(x)} MiB`)],
    ['history() of the most edited record', (c) => `${c.historyMs.toFixed(1)} ms (${c.historyVersions} versions)`, undefined],
  ];
  const head = `| figure | ${cps.map((c) => `day ${c.day}: ${int(c.changes)} changes`).join(' | ')} | growth per 100,000 changes | straight line at 1,000,000 changes |`;
  const table = [head, `| --- | ${cps.map(() => '---').join(' | ')} | --- | --- |`, ...rows.map(([what, f, l]) => `| ${what} | ${cps.map(f).join(' | ')} | ${l?.per ?? '–'} | ${l?.at ?? '–'} |`)].join('\n');
  // when one PC's log folder fills a FAT32 stick's folder at this pace
  const perPcPerDay = EDITS_PER_DAY / PCS;
  const fatDays = Math.floor(FAT_ENTRIES / FAT_PER_LOG_FILE / perPcPerDay);
  const text = `${table}\n\nAt ${EDITS_PER_DAY} edits a working day over ${PCS} PCs, one PC's log folder on a FAT32 stick is full after ~${fatDays} working days (${int(FAT_ENTRIES / FAT_PER_LOG_FILE)} files of 7 entries each).`;
  const { begin, end } = decadeMarkers(opts.format);
  const date = new Date().toISOString().slice(0, 10);
  const targets = 'The targets of issue #16 for format 2 at a decade: shared folder ≤ 5,000 files, no folder over 2,000 entries, its bytes ≤ 2× the live records and their history compressed, a join ≤ 10 s, a warm open ≤ 1 s at ≤ 200 MiB, history() of one record ≤ 50 ms.';
  const practice = `${int(opts.records)} records imported on PC1, then each working day ${EDITS_PER_DAY} edits of random records spread over the PCs, each its own log file. Each PC is a process of its own, all on one shared folder (no sync client, no attachments, no passphrase change); every ${EDITS_PER_HOUR} edits (an "hour") the PCs make their share of them at the same time, then all run an exchange round at the same time, sending theirs and taking in the others'; before each checkpoint they exchange until nothing is left to send or take in. Times from fresh processes (a join: an empty replica takes every file; a warm open: PC1's replica with a fresh snapshot); the machine is shared and noisy, counts are not. The records are made up from seeded random numbers: a name, a date, a fee, a diagnosis code and a note of 40–160 words from a vocabulary of 2,000 German-looking words built of syllables (the frequent words short, by Zipf's law), ${int(records.meanBytes)} bytes of JSON each on average; an edit replaces a record's note with a new one and sets its date. gzip shrinks the live records ${records.ratio.toFixed(1)}× (plain ÷ gzip bytes), about as much as German prose (2.5–3.5×), so what they and their history take compressed is about what real notes would take.`;
  const command = `npm run bench -- --decade${opts.format === 2 ? ' --format 2' : ''} --days ${opts.days} --records ${opts.records}${opts.checkpoints !== undefined && opts.checkpoints !== 4 ? ` --checkpoints ${opts.checkpoints}` : ''}`;
  const section =
    opts.format === 2
      ? `${begin}
## Ten years on format 2 (packs)

Produced by \`${command}\` on ${date} (${seconds} s; bench/decade.ts). The practice of the format-1 baseline below, on format 2: ${practice} Every PC rolls its own sent log files into packs of ${PACK_MIN_FILES.toLocaleString('en')} (the default), ten packs into one, and removes what its packs hold once the other three acknowledged them. No margin: the bench compresses years into minutes; in a practice the 7-day margin keeps about 2,100 more log files (a week of edits) in the folder. The straight line is the last checkpoint plus the growth between the first and the last; with packs the counts grow in steps (${PACK_MIN_FILES.toLocaleString('en')} log files become one pack), so over a short run it is rough.

${text}

${targets}
${end}`
      : `${begin}
## Ten years: the baseline of format 1

Produced by \`${command}\` on ${date} (${seconds} s; bench/decade.ts). A 4-PC practice on the store format of version 1: ${practice} The straight line is the last checkpoint plus the growth between the first and the last, out to the issue's decade (1,000,000 changes): nothing here shrinks, since format 1 deletes nothing; the shared folder's files are encrypted and do not compress.

${text}

${targets}
${end}`;
  return { text, section };
}

/** The document with its "Ten years" section of `format` replaced (or added before the profile notes). */
export function withDecadeSection(doc: string, section: string, format: 1 | 2 = 1): string {
  const { begin, end } = decadeMarkers(format);
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a >= 0 && b > a) return doc.slice(0, a) + section + doc.slice(b + end.length);
  const at = doc.indexOf('## What the profile showed');
  return at >= 0 ? `${doc.slice(0, at)}${section}\n\n${doc.slice(at)}` : `${doc.trimEnd()}\n\n${section}\n`;
}
