// `npx tsx bench/pack-read.ts [--files 10000] [--changes 3] [--runs 5]`: what reading one log file out of a
// pack costs (PackShelf.segment, what history() does for an older version in a pack), a pack of version 1
// (read and unpacked whole) beside one of version 2 (its index and one section). A pack as a decade of
// practice fills it (issue #16): ~10,000 log files of a few changes of ~1–2 KiB each, ~48 MiB unpacked.
// Cold: a new shelf (nothing kept), the file in the OS's page cache (it was just written); warm: the
// same shelf again, another log file in the same section, and one in another section. Plain script, no
// assertions; prints medians of `--runs` (this machine is shared: compare the two beside each other).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHeader, sha256Hex } from '../src/services/crypto/store-crypto';
import { Paths, type Change, type Segment } from '../src/services/store/format';
import { HybridClock } from '../src/services/store/hybrid-clock';
import { PackShelf } from '../src/services/store/pack-shelf';
import { ReplicaFolder, type PackFile, type SegmentFile } from '../src/services/store/replica-folder';
import { writePackV1 } from '../test/support/packs';

const num = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const FILES = num('--files', 10_000);
const CHANGES = num('--changes', 3);
const RUNS = num('--runs', 5);
const PACKS = num('--packs', 1);

const WORDS = (
  'Sitzung Klientin berichtet Schlaf besser Stimmung stabil Angst Arbeit Familie Gespräch Übung Hausaufgabe ' +
  'Exposition Vermeidung Ressourcen Tagebuch Rückfall Medikation Hausarzt Termin verschoben Ziel erreicht ' +
  'Beziehung Konflikt Trauer Grübeln Achtsamkeit Atemübung Wochenplan Aktivität Erschöpfung Antrag Gutachten'
).split(' ');
const rnd = (n: number) => crypto.randomInt(n);
// and 3,000 made-up words of German-like syllables: text that compresses about as notes do, not 20-fold
const SYLLABLES = 'be ge ver un ter ung keit lich isch ig schl st sch ch ei au ie an en er in ar or al ein aus über hand'.split(' ');
for (let i = 0; i < 3000; i++) WORDS.push(Array.from({ length: 2 + rnd(3) }, () => SYLLABLES[rnd(SYLLABLES.length)]).join(''));
const note = (bytes: number) => {
  const out: string[] = [];
  for (let n = 0; n < bytes; ) {
    const w = WORDS[rnd(WORDS.length)]!;
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ');
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
const ms = (x: number) => `${x.toFixed(2)} ms`;
const mib = (x: number) => `${(x / 1048576).toFixed(1)} MiB`;

/** Wall-clock time, and the process's CPU time (every thread's), of one call: the CPU time is what load on a shared machine does not add to. */
async function timed<T>(f: () => Promise<T>, cpu?: number[]): Promise<[number, T]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  cpu?.push((c.user + c.system) / 1000);
  return [wall, r];
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-pack-read-'));
  try {
    const { header, storeKey } = await createHeader('bench passphrase', { N: 1 << 14, r: 8, p: 1 });
    const folder = new ReplicaFolder(work, header.storeId, storeKey);
    const dev = crypto.randomBytes(16).toString('hex');
    // the log files (as a pack holds them: their content and the hash each had as a file)
    let prev: string | null = null;
    let plain = 0;
    const logFiles = (from: number): { f: SegmentFile; seg: Segment }[] => {
      const files: { f: SegmentFile; seg: Segment }[] = [];
      for (let seq = from; seq < from + FILES; seq++) {
        const changes: Change[] = [];
        for (let c = 0; c < CHANGES; c++) {
          const id = `k-${rnd(3000)}`;
          changes.push({
            col: ['clients', 'appointments', 'session-notes'][rnd(3)]!,
            id,
            ver: HybridClock.format(1_700_000_000_000 + seq * 1000 + c, 0, dev),
            parents: rnd(2) ? [HybridClock.format(1_600_000_000_000 + seq, 0, dev)] : [],
            at: new Date(1_700_000_000_000 + seq * 60_000).toISOString(),
            by: 'Praxis-PC Empfang',
            op: 'put',
            data: { name: `Klient ${id}`, date: '2026-11-28', fee: 100 + rnd(50), note: note(900 + rnd(800)) },
          });
        }
        const seg: Segment = { t: 'log', v: 1, device: dev, seq, prev, createdAt: new Date().toISOString(), changes };
        const hash = sha256Hex(Buffer.from(`${seq}:${JSON.stringify(seg)}`));
        files.push({ f: { device: dev, seq, hash }, seg });
        plain += Buffer.byteLength(JSON.stringify(seg)) + 1;
        prev = hash;
      }
      return files;
    };
    const files = logFiles(1);
    // both layouts of the same log files side by side (two files of one range: each shelf below holds one)
    const [w1, v1] = await timed(async () => writePackV1(work, storeKey, header.storeId, dev, files));
    const [w2, v2] = await timed(() => folder.writePack(dev, files));
    const layout = (await folder.readPackIndex(v2))!;
    const size = (p: PackFile) => fs.statSync(path.join(work, Paths.pack(dev, p.first, p.last, p.hash))).size;

    console.log(`pack: ${FILES} log files of ${CHANGES} changes (records ~1–2 KiB), ${mib(plain)} unpacked`);
    console.log(`  version 1: ${mib(size(v1))}, written in ${ms(w1)}`);
    console.log(`  version 2: ${mib(size(v2))}, written in ${ms(w2)}; ${layout.index.sections.length} sections, index ${((layout.offsets[0]! - 4) / 1024).toFixed(1)} KiB, sections ${(median(layout.index.sections.map((x) => x[3])) / 1024).toFixed(0)} KiB (median)`);

    // one log file out of the pack
    const rows: string[] = [];
    for (const [name, p] of [
      ['version 1 (whole)', v1],
      ['version 2 (index + section)', v2],
    ] as const) {
      const cold: number[] = [];
      const sameSection: number[] = [];
      const otherSection: number[] = [];
      const cpu: number[][] = [[], [], []];
      for (let r = 0; r < RUNS; r++) {
        const shelf = new PackShelf(folder);
        shelf.add(p);
        const at = 1 + rnd(FILES - 2);
        const s = layout.index.sections.findIndex(([first, last]) => first <= at && at <= last);
        const near = at + 1 <= layout.index.sections[s]![1] ? at + 1 : at - 1;
        const far = layout.index.sections[(s + Math.floor(layout.index.sections.length / 2)) % layout.index.sections.length]![0];
        const [c, seg] = await timed(() => shelf.segment(files[at - 1]!.f), cpu[0]);
        if (seg?.seq !== at) throw new Error('wrong log file read');
        cold.push(c);
        sameSection.push((await timed(() => shelf.segment(files[near - 1]!.f), cpu[1]))[0]);
        otherSection.push((await timed(() => shelf.segment(files[far - 1]!.f), cpu[2]))[0]);
      }
      const cell = (wall: number[], c: number[]) => `${ms(median(wall))} (CPU ${ms(median(c))})`;
      rows.push(`| ${name} | ${cell(cold, cpu[0]!)} | ${cell(sameSection, cpu[1]!)} | ${cell(otherSection, cpu[2]!)} |`);
    }
    // the whole pack checked (what the exchange does when it takes a pack): both layouts
    const whole: string[] = [];
    for (const [name, p] of [
      ['version 1', v1],
      ['version 2', v2],
    ] as const) {
      const t: number[] = [];
      const c: number[] = [];
      for (let r = 0; r < Math.min(RUNS, 3); r++) t.push((await timed(async () => folder.decodePack(p, await folder.readPackBytes(p)), c))[0]);
      whole.push(`${name} ${ms(median(t))} (CPU ${ms(median(c))})`);
    }
    console.log(`\nPackShelf.segment of one log file, median of ${RUNS} (${os.cpus().length} cores, Node ${process.version}, load ${os.loadavg()[0]!.toFixed(1)}):\n`);
    console.log('| pack | cold (new shelf) | warm, same section | warm, another section |');
    console.log('| --- | --- | --- | --- |');
    for (const r of rows) console.log(r);
    console.log(`\nthe whole pack read and checked (decodePack): ${whole.join(', ')}`);
    if (PACKS > 1) {
      // what history() does for a record whose older versions lie in PACKS packs: one log file out of each, nothing kept
      const pick = (fs: readonly { f: SegmentFile }[]) => Array.from({ length: RUNS }, () => fs[rnd(fs.length)]!.f);
      const packs = [{ p: v2, picked: pick(files) }];
      for (let k = 1; k < PACKS; k++) {
        const more = logFiles(k * FILES + 1);
        packs.push({ p: await folder.writePack(dev, more), picked: pick(more) });
      }
      const wall: number[] = [];
      const cpu: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const shelf = new PackShelf(folder);
        for (const { p } of packs) shelf.add(p);
        const [t] = await timed(async () => {
          for (const { picked } of packs) if (!(await shelf.segment(picked[r]!))) throw new Error('log file not found');
        }, cpu);
        wall.push(t);
      }
      console.log(`one log file out of each of ${PACKS} packs of version 2 (a new shelf): ${ms(median(wall))} (CPU ${ms(median(cpu))})`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

void main();
