// `npx tsx bench/heap-floor.ts [--records 100000] [--runs 3]`: what it costs a process to hold the
// heads' data of a large practice, the way a warm open holds it today (every record's data parsed into
// objects on the JS heap) beside the alternative (the snapshot's bytes kept off the heap, a record's data
// parsed when it is read). Issue #16's warm open (≤ 1 s at ≤ 200 MiB for 100,000 records) cannot be met
// while half of the open's CPU is the garbage collector moving the state being built (docs/FORMAT-2.md,
// "Warm open"); this measures that floor without the rest of the store. Each variant runs in a fresh
// process (its own heap), alternately, `--runs` times; medians are printed. The records are those of the
// decade bench: a name, a date, a fee, a code and a note of 40–160 German-looking words, ~840 bytes of JSON.
// Plain script, no assertions; this machine is shared: compare the two beside each other.
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const num = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const BATCH = 100; // records per snapshot batch (snapshot version 2 and 3)

interface Figures {
  /** Building what the process holds, from batches already in memory as bytes (what a decrypted snapshot is). */
  loadMs: number;
  loadCpuMs: number;
  /** Reading every record's data once (what a list() of every collection does). */
  readAllMs: number;
  heapMiB: number;
  /** Buffers' memory: the file's bytes (both), which the off-heap variant keeps as what it holds. */
  offHeapMiB: number;
  peakMiB: number;
}

/** The child: holds `file`'s batches one way, prints its figures. */
function child(mode: 'objects' | 'bytes', file: string): void {
  const all = fs.readFileSync(file);
  const batches: Buffer[] = [];
  for (let at = 0; at < all.length; ) {
    const len = all.readUInt32LE(at);
    batches.push(all.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const records = new Map<string, { ver: string; data?: unknown; bytes?: Buffer }>();
  if (mode === 'objects') {
    // today: a batch is parsed, every record's data kept as the objects JSON.parse made
    for (const b of batches) for (const r of JSON.parse(b.toString('utf8')) as { id: string; ver: string; data: unknown }[]) records.set(r.id, { ver: r.ver, data: r.data });
  } else {
    // the alternative: a batch is a header line of [id, ver, data length] and the records' data bytes after it
    for (const b of batches) {
      const nl = b.indexOf(0x0a);
      let at = nl + 1;
      for (const [id, ver, len] of JSON.parse(b.toString('utf8', 0, nl)) as [string, string, number][]) {
        records.set(id, { ver, bytes: b.subarray(at, at + len) });
        at += len;
      }
    }
  }
  const loadMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const t1 = performance.now();
  let fields = 0;
  for (const r of records.values()) fields += Object.keys((r.data ?? JSON.parse(r.bytes!.toString('utf8'))) as object).length;
  const readAllMs = performance.now() - t1;
  if (fields === 0) throw new Error('nothing read');
  (globalThis as { gc?: () => void }).gc?.();
  const heapMiB = process.memoryUsage().heapUsed / 1048576;
  const offHeapMiB = process.memoryUsage().arrayBuffers / 1048576;
  const out: Figures = { loadMs, loadCpuMs: (cpu.user + cpu.system) / 1000, readAllMs, heapMiB, offHeapMiB, peakMiB: process.resourceUsage().maxRSS / 1024 };
  // what is held stays held until the figures are taken (else the collection above frees it)
  if (records.size !== batches.length * BATCH) throw new Error('records lost');
  process.stdout.write(JSON.stringify(out));
}

function makeRecords(n: number, dir: string): { objects: string; bytes: string; avg: number } {
  const syl = 'be ge ver un ter ung keit lich isch ig schl st sch ch ei au ie an en er in ar or al ein aus über hand'.split(' ');
  const words = Array.from({ length: 2000 }, () => Array.from({ length: 2 + crypto.randomInt(3) }, () => syl[crypto.randomInt(syl.length)]).join(''));
  const note = () => Array.from({ length: 40 + crypto.randomInt(121) }, () => words[Math.floor(words.length * Math.random() ** 2)]).join(' ');
  const objects: Buffer[] = [];
  const bytes: Buffer[] = [];
  let total = 0;
  const frame = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return Buffer.concat([len, b]);
  };
  for (let b = 0; b < n / BATCH; b++) {
    const recs = Array.from({ length: BATCH }, (_, i) => ({
      id: `k${b * BATCH + i}`,
      ver: `${(1_700_000_000_000 + b * BATCH + i).toString(36)}.0000.${crypto.randomBytes(16).toString('hex')}`,
      data: { name: `Klient ${b * BATCH + i}`, date: '2026-11-30', fee: 100 + crypto.randomInt(50), code: `F${crypto.randomInt(10, 99)}.${crypto.randomInt(10)}`, note: note() },
    }));
    objects.push(frame(Buffer.from(JSON.stringify(recs))));
    const datas = recs.map((r) => Buffer.from(JSON.stringify(r.data)));
    total += datas.reduce((s, d) => s + d.length, 0);
    bytes.push(frame(Buffer.concat([Buffer.from(JSON.stringify(recs.map((r, i) => [r.id, r.ver, datas[i]!.length])) + '\n'), ...datas])));
  }
  fs.writeFileSync(path.join(dir, 'objects'), Buffer.concat(objects));
  fs.writeFileSync(path.join(dir, 'bytes'), Buffer.concat(bytes));
  return { objects: path.join(dir, 'objects'), bytes: path.join(dir, 'bytes'), avg: total / n };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function main(): void {
  const i = process.argv.indexOf('--child');
  if (i >= 0) return child(process.argv[i + 1] as 'objects' | 'bytes', process.argv[i + 2]!);
  const n = num('--records', 100_000);
  const runs = num('--runs', 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heap-floor-'));
  try {
    const files = makeRecords(n, dir);
    const got: Record<'objects' | 'bytes', Figures[]> = { objects: [], bytes: [] };
    for (let r = 0; r < runs; r++)
      for (const mode of ['objects', 'bytes'] as const)
        got[mode].push(JSON.parse(execFileSync(process.execPath, ['--expose-gc', ...process.execArgv, __filename, '--child', mode, files[mode]], { encoding: 'utf8' })) as Figures);
    const m = (mode: 'objects' | 'bytes', k: keyof Figures) => median(got[mode].map((f) => f[k]));
    console.log(`${n.toLocaleString('en')} records of ~${Math.round(files.avg)} bytes of JSON each, batches of ${BATCH}; medians of ${runs} fresh processes each (${os.cpus().length} cores, Node ${process.version})`);
    console.log('| | data parsed and kept as objects (today) | bytes kept off the heap, parsed when read | ratio |');
    console.log('| --- | --- | --- | --- |');
    for (const [k, label] of [
      ['loadMs', 'holding every record (wall ms)'],
      ['loadCpuMs', 'holding every record (CPU ms)'],
      ['readAllMs', "reading every record's data once (ms)"],
      ['heapMiB', 'JS heap after a collection (MiB)'],
      ['offHeapMiB', 'Buffers, off the heap (MiB; the file read, in both)'],
      ['peakMiB', 'peak RSS (MiB)'],
    ] as [keyof Figures, string][])
      console.log(`| ${label} | ${m('objects', k).toFixed(0)} | ${m('bytes', k).toFixed(0)} | ${(m('bytes', k) / m('objects', k)).toFixed(2)}× |`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
