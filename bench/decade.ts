// `npm run bench -- --decade [--days N] [--records N]`: years of a 4-PC practice on the format of
// today (version 1), the baseline issue #16 measures its format 2 against. Each working day 300 edits
// of random records, spread over the 4 PCs, each its own log file (at human pace every edit is sealed
// on its own: the seal delay is 50 ms); the writing PC sends at once, every PC takes in the others'
// files at the end of each "hour" (30 edits). At checkpoints it measures the shared folder (files,
// the fullest folder, bytes against what the live records and their history take compressed), a new
// PC's join, a warm open and its peak RSS (fresh processes), history() of the most edited record, and
// the FAT32 entries of the fullest log folder. Then it states each figure's growth per 100,000 changes
// and where a straight line puts it at 1,000,000 changes (a decade at 300 edits a working day), and
// rewrites the "Ten years" section of docs/PERFORMANCE.md.
//
// What it leaves out: the sync client (all PCs share one folder, as a synced folder looks once the
// client has caught up; the cloud simulator's replicator does not scale to 100,000 files); attachments;
// passphrase changes. The edits are timed as fast as the machine goes, not at human pace (times of
// day do not matter to any figure here).
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { ImportRecord, JsonObject } from '../src/host-api';
import { createHeader } from '../src/services/crypto/store-crypto';
import { PracticeReplica } from '../src/services/store/practice-replica';
import { ReplicaFolder } from '../src/services/store/replica-folder';
import { SharedFolderExchange } from '../src/services/store/shared-folder-exchange';

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

function record(i: number, day: number, n: number): ImportRecord {
  return {
    collection: i % 3 === 0 ? 'clients' : i % 3 === 1 ? 'appointments' : 'session-notes',
    id: `r${i}`,
    data: { name: `Klient ${i}`, day, n, note: `Sitzung ${n}: ${'Stimmung stabil, Schlaf besser. '.repeat(4)}`, fee: 100 + (i % 50) },
  };
}

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

export async function decadeFigures(work: string, opts: { days: number; records: number; format: 1 | 2 }): Promise<{ text: string; section: string }> {
  const t0 = Date.now();
  const shared = fs.mkdtempSync(path.join(work, 'decade-shared-'));
  const { header, storeKey } = await createHeader('bench passphrase', { N: 1 << 14, r: 8, p: 1 });
  await ReplicaFolder.writeHeader(shared, header);
  const pcs = await Promise.all(
    Array.from({ length: PCS }, async (_, i) => {
      const localRoot = path.join(fs.mkdtempSync(path.join(work, `decade-pc${i + 1}-`)), 'replica');
      const id = crypto.randomBytes(16).toString('hex');
      const replica = await PracticeReplica.open({ localRoot, header, key: storeKey, deviceId: id, deviceName: `PC${i + 1}`, userName: 'bench', sealDelayMs: 60_000 });
      // format 2: packs of 1,000 log files as in a practice, maintenance in every round, and no margin (the bench
      // compresses years into minutes: in a practice the 7 days keep ~2,100 more log files in the folder)
      const exchange = new SharedFolderExchange(replica, {
        sharedRoot: shared,
        deviceName: `PC${i + 1}`,
        userName: 'bench',
        watch: false,
        pollMs: 1e9,
        auditMs: 1e9,
        ...(opts.format === 2 ? { maintenanceMs: 0, packMarginMs: 0 } : { formats: [1] }),
      });
      return { replica, exchange, localRoot, id };
    }),
  );
  // the raw JSON of every change (the live records' and their history's "compressed" size is gzip of it)
  const history: Buffer[] = [];
  const live = new Map<string, string>();
  const imported: ImportRecord[] = Array.from({ length: opts.records }, (_, i) => record(i, 0, 0));
  await pcs[0]!.replica.importRecords(imported);
  await pcs[0]!.replica.sealNow();
  for (const r of imported) {
    const s = JSON.stringify(r);
    history.push(Buffer.from(s));
    live.set(`${r.collection}/${r.id}`, s);
  }
  for (const pc of pcs) await pc.exchange.exchange();
  const rng = (() => {
    let s = 0x9e3779b9;
    return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296);
  })();
  const edits = new Map<number, number>();
  const checkpoints: Checkpoint[] = [];
  const every = Math.max(1, Math.floor(opts.days / 4));
  let n = 0;
  for (let day = 1; day <= opts.days; day++) {
    for (let e = 0; e < EDITS_PER_DAY; e++) {
      const i = Math.floor(rng() * opts.records);
      const pc = pcs[e % PCS]!;
      edits.set(i, (edits.get(i) ?? 0) + 1);
      const r = record(i, day, ++n);
      await pc.replica.put(r.collection, r.id, r.data as JsonObject);
      await pc.replica.sealNow(); // one log file per edit, as at human pace
      const s = JSON.stringify(r);
      history.push(Buffer.from(s));
      live.set(`${r.collection}/${r.id}`, s);
      if ((e + 1) % EDITS_PER_HOUR === 0) for (const o of pcs) await o.exchange.exchange();
    }
    if (day % every !== 0 && day !== opts.days) continue;
    for (const o of pcs) await o.exchange.exchange();
    const s = survey(shared);
    const changes = pcs[0]!.replica.changeCount;
    // the most edited record's history, on PC1
    let top = 0;
    for (const [i, c] of edits) if (c > (edits.get(top) ?? 0)) top = i;
    const topRec = record(top, 0, 0);
    const h0 = performance.now();
    const versions = await pcs[0]!.replica.history(topRec.collection, topRec.id);
    const historyMs = performance.now() - h0;
    // a warm open of PC1's replica (a copy, with a fresh snapshot) and a new PC's join, in fresh processes
    await pcs[0]!.replica.writeSnapshot();
    const copy = path.join(fs.mkdtempSync(path.join(work, 'decade-warm-')), 'replica');
    fs.cpSync(pcs[0]!.localRoot, copy, { recursive: true });
    fs.rmSync(path.join(copy, 'replica.lock'), { recursive: true, force: true });
    const key = storeKey.toString('base64');
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
    const cp: Checkpoint = {
      day,
      changes,
      files: s.files,
      fullest: { rel: s.fullest.rel.replace(/[0-9a-f]{32}/, '<PC>'), entries: s.fullest.entries },
      bytes: s.bytes,
      liveCompressed: zlib.gzipSync(Buffer.from([...live.values()].join('\n'))).length,
      historyCompressed: zlib.gzipSync(Buffer.concat(history.map((b) => Buffer.concat([b, Buffer.from('\n')])))).length,
      joinMs: join.ms,
      joinRssMiB: join.rssMiB,
      warmMs: warm.ms,
      warmRssMiB: warm.rssMiB,
      historyMs,
      historyVersions: versions.length,
    };
    checkpoints.push(cp);
    process.stderr.write(`[decade] day ${day}: ${int(changes)} changes, ${int(s.files)} files, fullest folder ${s.fullest.entries} entries, join ${Math.round(join.ms)} ms, warm open ${Math.round(warm.ms)} ms / ${warm.rssMiB} MiB\n`);
  }
  for (const pc of pcs) {
    await pc.exchange.stop();
    await pc.replica.close();
  }
  return render(checkpoints, opts, Math.round((Date.now() - t0) / 1000));
}

function render(cps: Checkpoint[], opts: { days: number; records: number; format: 1 | 2 }, seconds: number): { text: string; section: string } {
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
  const practice = `${int(opts.records)} records imported on PC1, then each working day ${EDITS_PER_DAY} edits of random records spread over the PCs, each its own log file, the writer sending at once and every PC taking in the others' files every ${EDITS_PER_HOUR} edits; one shared folder (no sync client, no attachments, no passphrase change). Times from fresh processes (a join: an empty replica takes every file; a warm open: PC1's replica with a fresh snapshot); the machine is shared and noisy, counts are not. The records are synthetic and alike, so they compress far better than real notes (the ratio to the compressed records is an upper bound).`;
  const section =
    opts.format === 2
      ? `${begin}
## Ten years on format 2 (packs)

Produced by \`npm run bench -- --decade --format 2 --days ${opts.days} --records ${opts.records}\` on ${date} (${seconds} s; bench/decade.ts). The practice of the format-1 baseline below, on format 2: ${practice} Every PC rolls its own sent log files into packs of 1,000, ten packs into one, and removes what its packs hold once the other three acknowledged them. No margin: the bench compresses years into minutes; in a practice the 7-day margin keeps about 2,100 more log files (a week of edits) in the folder. The straight line is the last checkpoint plus the growth between the first and the last; with packs the counts grow in steps (1,000 log files become one pack), so over a short run it is rough.

${text}

${targets}
${end}`
      : `${begin}
## Ten years: the baseline of format 1

Produced by \`npm run bench -- --decade --days ${opts.days} --records ${opts.records}\` on ${date} (${seconds} s; bench/decade.ts). A 4-PC practice on the store format of version 1: ${practice} The straight line is the last checkpoint plus the growth between the first and the last, out to the issue's decade (1,000,000 changes): nothing here shrinks, since format 1 deletes nothing; the shared folder's files are encrypted and do not compress.

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
