// Crash and bad-file parts of the reliability campaign (plain functions, no jest).
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHeader, encrypt, sha256Hex } from '../../src/services/crypto/store-crypto';
import { Contexts, MAX_SEGMENT_BYTES } from '../../src/services/store/format';
import { PracticeReplica } from '../../src/services/store/practice-replica';
import { ReplicaFolder } from '../../src/services/store/replica-folder';
import { SharedFolderExchange } from '../../src/services/store/shared-folder-exchange';
import { walk } from '../support/files';

const KDF = { N: 1024, r: 8, p: 1 };

async function newStore(root: string) {
  const shared = path.join(root, 'shared');
  fs.mkdirSync(shared, { recursive: true });
  const { header, storeKey } = await createHeader('fault campaign', 'test', KDF);
  await ReplicaFolder.writeHeader(shared, header);
  return { shared, header, key: storeKey };
}

function runAndKill(payload: object, killAfterMs: number): Promise<{ acked: Map<string, string>; removed: Set<string> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'support', 'crash-writer.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const acked = new Map<string, string>();
    const removed = new Set<string>();
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        const m = /^ack (\S+) (\S+)$/.exec(line);
        if (m) {
          if (m[2] === 'removed') {
            removed.add(m[1]!);
            acked.delete(m[1]!);
          } else acked.set(m[1]!, m[2]!);
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve({ acked, removed }) : reject(new Error(`writer ended by itself (${signal ?? code})`))));
    child.stdin.end(JSON.stringify(payload));
  });
}

export interface CrashResult {
  kills: number;
  acknowledged: number;
  lost: number;
  verifyProblems: number;
  failures: string[];
}

/** A writer process killed with SIGKILL at random moments, again and again, on one replica. */
export async function crashCampaign(kills: number): Promise<CrashResult> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-crash-'));
  const failures: string[] = [];
  let lost = 0;
  let verifyProblems = 0;
  try {
    const store = await newStore(root);
    const localRoot = path.join(root, 'replica');
    const deviceId = crypto.randomBytes(16).toString('hex');
    const everAcked = new Map<string, string>();
    const everRemoved = new Set<string>();
    let start = 0;
    for (let k = 0; k < kills; k++) {
      const { acked, removed } = await runAndKill({ header: store.header, key: store.key.toString('base64'), localRoot, sharedRoot: store.shared, deviceId, start }, 50 + Math.floor(Math.random() * 400));
      for (const [id, v] of acked) everAcked.set(id, v);
      for (const id of removed) {
        everRemoved.add(id);
        everAcked.delete(id);
      }
      // open takes the killed process's lock over at once (its owner record names a process that is gone)
      const replica = await PracticeReplica.open({ localRoot, header: store.header, key: store.key, deviceId, deviceName: 'crash', userName: 'crash', lockStaleMs: 2000 });
      for (const [id, version] of everAcked) {
        const hist = await replica.history('notes', id);
        if (!hist.some((h) => h.version === version)) {
          lost++;
          failures.push(`after kill ${k + 1}: ${id}@${version} lost`);
        }
      }
      for (const id of everRemoved) if (await replica.get('notes', id)) failures.push(`after kill ${k + 1}: removed ${id} is back`);
      const report = await replica.verify();
      verifyProblems += report.problems.length;
      for (const p of report.problems) failures.push(`after kill ${k + 1}: verify: ${p.path}: ${p.reason}`);
      start = Math.max(start, ...[...everAcked.keys(), ...everRemoved].map((id) => Number(id.slice(1)) + 1)) + 1;
      await replica.close();
    }
    const replica = await PracticeReplica.open({ localRoot, header: store.header, key: store.key, deviceId, deviceName: 'crash', userName: 'crash', lockStaleMs: 2000 });
    const shared = await replica.verify(store.shared);
    verifyProblems += shared.problems.length;
    for (const p of shared.problems) failures.push(`shared folder after the campaign: ${p.path}: ${p.reason}`);
    await replica.close();
    if (everAcked.size <= kills) failures.push(`too few acknowledged changes to mean anything (${everAcked.size})`);
    return { kills, acknowledged: everAcked.size + everRemoved.size, lost, verifyProblems, failures };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export interface BadFileResult {
  tried: number;
  kinds: string[];
  failures: string[];
}

/**
 * Every kind of file a shared folder can hold that is not what it should be. Each must be reported
 * and named by verify, never applied, never deleted — and the good data must stay readable.
 */
export async function badFileCorpus(): Promise<BadFileResult> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-bad-'));
  const failures: string[] = [];
  try {
    const store = await newStore(root);
    const open = async (name: string) => {
      const r = await PracticeReplica.open({ localRoot: path.join(root, name), header: store.header, key: store.key, deviceId: crypto.randomBytes(16).toString('hex'), deviceName: name, userName: 't' });
      return { r, x: new SharedFolderExchange(r, { sharedRoot: store.shared, deviceName: name, userName: 't', watch: false }) };
    };
    const a = await open('a');
    await a.r.put('clients', 'k1', { name: 'Anna' });
    await a.r.sealNow();
    await a.x.exchange();
    const good = fs.readFileSync(path.join(store.shared, walk(store.shared).find((f) => f.includes(`${path.sep}log${path.sep}`))!));
    const other = await createHeader('other store', 'x', KDF);
    const dev = 'f'.repeat(32);
    const dir = path.join(store.shared, 'devices', dev, 'log');
    fs.mkdirSync(dir, { recursive: true });
    const name = (seq: number, bytes: Buffer) => `${String(seq).padStart(10, '0')}-${sha256Hex(bytes)}`;
    const segmentOf = (seq: number, json: object, key = store.key, storeId = store.header.storeId) => encrypt(key, storeId, Contexts.segment(dev, seq), Buffer.from(JSON.stringify(json)));
    const change = { ver: `00000000a.0000.${dev}`, col: 'clients', id: 'k1', parents: [], at: '2026-11-28T00:00:00Z', by: 'evil', op: 'put', data: { name: 'Mallory' } };
    const cases: [string, string, () => void][] = [];
    const add = (kind: string, seq: number, make: () => Buffer | 'dir' | 'symlink') =>
      cases.push([
        kind,
        `${String(seq).padStart(10, '0')}-`,
        () => {
          const b = make();
          if (b === 'dir') fs.mkdirSync(path.join(dir, name(seq, Buffer.from(kind))));
          else if (b === 'symlink') fs.symlinkSync('/etc/hostname', path.join(dir, name(seq, Buffer.from(kind))));
          else fs.writeFileSync(path.join(dir, kind === 'truncated' ? name(seq, good) : name(seq, b)), b);
        },
      ]);
    add('truncated', 1, () => good.subarray(0, good.length - 7));
    add('flipped bits', 2, () => {
      const b = Buffer.from(good);
      b[Math.floor(b.length / 2)]! ^= 0x10;
      return b;
    });
    add('wrong key', 3, () => segmentOf(3, { t: 'log', v: 1, device: dev, seq: 3, prev: null, createdAt: '', changes: [change] }, crypto.randomBytes(32)));
    add('other store', 4, () => segmentOf(4, { t: 'log', v: 1, device: dev, seq: 4, prev: null, createdAt: '', changes: [change] }, other.storeKey, other.header.storeId));
    add('future version', 5, () => segmentOf(5, { t: 'log', v: 2, device: dev, seq: 5, prev: null, createdAt: '', changes: [change] }));
    add('huge', 6, () => Buffer.alloc(MAX_SEGMENT_BYTES + 1, 1));
    add('zero bytes', 7, () => Buffer.alloc(0));
    add('folder where a file should be', 8, () => 'dir');
    add('symlink out of the folder', 9, () => 'symlink');
    add('another device’s segment moved here', 10, () => good);
    add('not JSON inside', 11, () => encrypt(store.key, store.header.storeId, Contexts.segment(dev, 11), Buffer.from('not json {')));
    for (const [, , make] of cases) make();
    const debris = ['..0000000012-' + 'a'.repeat(64), '0000000001-abc (PC2 conflicted copy 2026-11-28).bin', 'desktop.ini'];
    for (const n of debris) fs.writeFileSync(path.join(dir, n), good);
    fs.writeFileSync(path.join(store.shared, '.DS_Store'), 'x');
    const before = walk(store.shared);
    const b = await open('b');
    await b.x.exchange();
    const rec = await b.r.get('clients', 'k1');
    if (!rec || (rec.data as { name?: string }).name !== 'Anna') failures.push(`the good record is not intact on a new device: ${JSON.stringify(rec)}`);
    const after = walk(store.shared);
    for (const f of before) if (!after.includes(f)) failures.push(`${f} was deleted`);
    const report = await b.r.verify(store.shared);
    const expectReason: Record<string, RegExp> = { 'zero bytes': /empty/, 'symlink out of the folder': /symbolic link/, huge: /too large/, truncated: /does not match its name/, 'folder where a file should be': /not a file/ };
    for (const [kind, prefix] of cases) {
      const found = report.problems.find((p) => p.path.includes(`${path.sep}log${path.sep}${prefix}`));
      if (!found) failures.push(`verify does not name the ${kind} file`);
      else if (expectReason[kind] && !expectReason[kind]!.test(found.reason)) failures.push(`the ${kind} file is named with the reason "${found.reason}"`);
    }
    for (const n of debris) if (!report.ignored.some((p) => p.path.endsWith(n))) failures.push(`verify does not list ${n} as ignored`);
    if (report.problems.length !== cases.length) failures.push(`verify found ${report.problems.length} problems for ${cases.length} bad files: ${report.problems.map((p) => p.path).join(', ')}`);
    await a.x.stop();
    await b.x.stop();
    await a.r.close();
    await b.r.close();
    return { tried: cases.length + debris.length + 1, kinds: cases.map((c) => c[0]), failures };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
