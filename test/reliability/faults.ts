// Crash and bad-file parts of the reliability campaign (plain functions, no jest).
import { execFileSync, spawn } from 'node:child_process';
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

const KDF = { N: 1 << 14, r: 8, p: 1 };

async function newStore(root: string) {
  const shared = path.join(root, 'shared');
  fs.mkdirSync(shared, { recursive: true });
  const { header, storeKey } = await createHeader('fault campaign', KDF);
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
  /** Kills after which the next writer started within a second, before anything else looked at the replica. */
  quickRestarts: number;
  acknowledged: number;
  lost: number;
  verifyProblems: number;
  failures: string[];
}

/**
 * A writer process killed with SIGKILL at random moments, again and again, on one replica. After
 * about half of the kills the next writer starts within a second (an app restarted at once: it
 * meets the killed process's lock and its half-written files first); after the others the replica is
 * opened and checked in between.
 */
export async function crashCampaign(kills: number, random: () => number = Math.random): Promise<CrashResult> {
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
    let quickRestarts = 0;
    for (let k = 0; k < kills; k++) {
      const { acked, removed } = await runAndKill({ header: store.header, key: store.key.toString('base64'), localRoot, sharedRoot: store.shared, deviceId, start }, 50 + Math.floor(random() * 400));
      for (const [id, v] of acked) everAcked.set(id, v);
      for (const id of removed) {
        everRemoved.add(id);
        everAcked.delete(id);
      }
      start = Math.max(start, ...[...everAcked.keys(), ...everRemoved].map((id) => Number(id.slice(1)) + 1)) + 1;
      if (k < kills - 1 && random() < 0.5) {
        // the next start within a second of the kill: checked after the next kill, or at the end
        await new Promise((r) => setTimeout(r, Math.floor(random() * 1000)));
        quickRestarts++;
        continue;
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
      await replica.close();
    }
    const replica = await PracticeReplica.open({ localRoot, header: store.header, key: store.key, deviceId, deviceName: 'crash', userName: 'crash', lockStaleMs: 2000 });
    const shared = await replica.verify(store.shared);
    verifyProblems += shared.problems.length;
    for (const p of shared.problems) failures.push(`shared folder after the campaign: ${p.path}: ${p.reason}`);
    await replica.close();
    // on a loaded machine a writer killed 50 ms after it is ready may have acknowledged nothing: only none at all is meaningless
    if (everAcked.size + everRemoved.size === 0) failures.push(`no acknowledged change at all in ${kills} kills: nothing was tested`);
    return { kills, quickRestarts, acknowledged: everAcked.size + everRemoved.size, lost, verifyProblems, failures };
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
    const other = await createHeader('other store', KDF);
    const dev = 'f'.repeat(32);
    const dir = path.join(store.shared, 'devices', dev, 'log');
    fs.mkdirSync(dir, { recursive: true });
    const name = (seq: number, bytes: Buffer) => `${String(seq).padStart(10, '0')}-${sha256Hex(bytes)}`;
    const segmentOf = (seq: number, json: object, key = store.key, storeId = store.header.storeId) => encrypt(key, storeId, Contexts.segment(dev, seq), Buffer.from(JSON.stringify(json)));
    const change = { ver: `00000000a.0000.${dev}`, col: 'clients', id: 'k1', parents: [], at: '2026-11-28T00:00:00Z', by: 'evil', op: 'put', data: { name: 'Mallory' } };
    const cases: [string, string, () => void][] = [];
    type Made = Buffer | 'dir' | 'symlink' | 'dir with files' | 'fifo' | 'dangling symlink' | 'symlink inside' | { bytes: Buffer; namedAfter: Buffer };
    const add = (kind: string, seq: number, make: () => Made) =>
      cases.push([
        kind,
        `${String(seq).padStart(10, '0')}-`,
        () => {
          const b = make();
          const at = path.join(dir, name(seq, Buffer.from(kind)));
          if (b === 'dir') fs.mkdirSync(at);
          else if (b === 'dir with files') {
            fs.mkdirSync(at);
            fs.writeFileSync(path.join(at, 'inside'), good);
          } else if (b === 'symlink') fs.symlinkSync('/etc/hostname', at);
          else if (b === 'dangling symlink') fs.symlinkSync(path.join(dir, 'nothing-here'), at);
          else if (b === 'symlink inside') fs.symlinkSync(path.join(store.shared, walk(store.shared).find((f) => f.includes(`${path.sep}log${path.sep}`))!), at);
          else if (b === 'fifo') execFileSync('mkfifo', [at]);
          else if (Buffer.isBuffer(b)) fs.writeFileSync(path.join(dir, kind === 'truncated' ? name(seq, good) : name(seq, b)), b);
          else fs.writeFileSync(path.join(dir, name(seq, b.namedAfter)), b.bytes);
        },
      ]);
    const flip = (b: Buffer, at: number) => {
      const c = Buffer.from(b);
      c[at < 0 ? c.length + at : at]! ^= 0x01;
      return c;
    };
    const seg = (seq: number, over: object = {}, changeOver: object = {}) => ({ t: 'log', v: 1, device: dev, seq, prev: null, createdAt: '2026-11-28T00:00:00Z', changes: [{ ...change, ...changeOver }], ...over });
    const sealed = (seq: number, plain: Buffer | string, context = Contexts.segment(dev, seq)) => encrypt(store.key, store.header.storeId, context, Buffer.isBuffer(plain) ? plain : Buffer.from(plain));
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
    // damaged bytes of every kind a disk, a transfer or a sync client makes
    add('cut to one byte', 12, () => ({ bytes: good.subarray(0, 1), namedAfter: good }));
    add('cut in half', 13, () => ({ bytes: good.subarray(0, good.length >> 1), namedAfter: good }));
    add('one byte appended', 14, () => ({ bytes: Buffer.concat([good, Buffer.from([0])]), namedAfter: good }));
    add('first byte flipped', 15, () => ({ bytes: flip(good, 0), namedAfter: good }));
    add('last byte flipped (authentication tag)', 16, () => ({ bytes: flip(good, -1), namedAfter: good }));
    add('a nonce byte flipped', 17, () => ({ bytes: flip(good, 8), namedAfter: good }));
    add('zeros of the right length', 18, () => ({ bytes: Buffer.alloc(good.length), namedAfter: good }));
    add('random bytes named after their own hash', 19, () => crypto.randomBytes(good.length));
    add('zeros named after their own hash', 20, () => Buffer.alloc(300));
    add('flipped bits renamed after the new hash', 21, () => flip(good, good.length >> 1));
    // not encrypted, or sealed for another place
    add('plain JSON, not encrypted', 22, () => Buffer.from(JSON.stringify(seg(22))));
    add('sealed for the next position', 23, () => sealed(23, JSON.stringify(seg(23)), Contexts.segment(dev, 24)));
    add('sealed for another device', 24, () => sealed(24, JSON.stringify(seg(24)), Contexts.segment('e'.repeat(32), 24)));
    add('an attachment moved here', 25, () => encrypt(store.key, store.header.storeId, Contexts.object(), Buffer.from('Befund')));
    add('a presence file moved here', 26, () => sealed(26, JSON.stringify({ t: 'presence', v: 1 }), Contexts.presence(dev)));
    add('a journal entry moved here', 27, () => sealed(27, JSON.stringify({ t: 'journal', v: 1, change }), Contexts.journal(dev, change.ver)));
    add('the store header moved here', 28, () => fs.readFileSync(path.join(store.shared, 'practice-store.json')));
    add('a snapshot sealed here', 29, () => sealed(29, JSON.stringify(seg(29, { t: 'snapshot' })), Contexts.snapshot(dev, 29)));
    // authentic, but the content is not what the place says or the schema allows
    add('another position inside', 30, () => sealed(30, JSON.stringify(seg(31))));
    add('another device inside', 31, () => sealed(31, JSON.stringify(seg(31, { device: 'e'.repeat(32) }))));
    add('another device’s change inside', 32, () => sealed(32, JSON.stringify(seg(32, {}, { ver: `00000000a.0000.${'e'.repeat(32)}` }))));
    add('a JSON array inside', 33, () => sealed(33, '[1,2,3]'));
    add('JSON null inside', 34, () => sealed(34, 'null'));
    add('an empty JSON object inside', 35, () => sealed(35, '{}'));
    add('no list of changes', 36, () => sealed(36, JSON.stringify(seg(36, { changes: undefined }))));
    add('changes not a list', 37, () => sealed(37, JSON.stringify(seg(37, { changes: { a: 1 } }))));
    add('an empty list of changes', 38, () => sealed(38, JSON.stringify(seg(38, { changes: [] }))));
    add('an older format version', 39, () => sealed(39, JSON.stringify(seg(39, { v: 0 }))));
    add('an unknown operation', 40, () => sealed(40, JSON.stringify(seg(40, {}, { op: 'explode' }))));
    add('a collection name not allowed', 41, () => sealed(41, JSON.stringify(seg(41, {}, { col: '../Clients' }))));
    add('a record id not allowed', 42, () => sealed(42, JSON.stringify(seg(42, {}, { id: 'a/b' }))));
    add('a version in a wrong format', 43, () => sealed(43, JSON.stringify(seg(43, {}, { ver: `x.${dev}` }))));
    add('more than 5000 changes', 44, () => sealed(44, JSON.stringify(seg(44, { changes: Array.from({ length: 5001 }, (_, i) => ({ ...change, ver: `${i.toString(36).padStart(9, '0')}.0000.${dev}` })) }))));
    add('more than 256 parents', 45, () => sealed(45, JSON.stringify(seg(45, {}, { parents: Array.from({ length: 257 }, (_, i) => `${i.toString(36).padStart(9, '0')}.0000.${dev}`) }))));
    add('parents that are not versions', 46, () => sealed(46, JSON.stringify(seg(46, {}, { parents: [42] }))));
    add('record data not an object', 47, () => sealed(47, JSON.stringify(seg(47, {}, { data: 'Mallory' }))));
    add('a predecessor hash that is no hash', 48, () => sealed(48, JSON.stringify(seg(48, { prev: 12345 }))));
    add('a negative position inside', 49, () => sealed(49, JSON.stringify(seg(49, { seq: -49 }))));
    add('a position that is not a whole number', 50, () => sealed(50, JSON.stringify(seg(50, { seq: 50.5 }))));
    add('a date far too long', 51, () => sealed(51, JSON.stringify(seg(51, { createdAt: '2026-11-28T00:00:00Z'.repeat(40) }))));
    add('an author name far too long', 52, () => sealed(52, JSON.stringify(seg(52, {}, { by: 'x'.repeat(5000) }))));
    add('invalid UTF-8 inside', 53, () => sealed(53, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])));
    add('an encrypted empty file', 54, () => sealed(54, Buffer.alloc(0)));
    // what a file system can put where a file should be
    add('a named pipe where a file should be', 55, () => 'fifo');
    add('a dangling symlink', 56, () => 'dangling symlink');
    add('a symlink to a good file in the folder', 57, () => 'symlink inside');
    add('a folder with files in it where a file should be', 58, () => 'dir with files');
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
    const expectReason: Record<string, RegExp> = {
      'zero bytes': /empty/,
      'symlink out of the folder': /symbolic link/,
      'a dangling symlink': /symbolic link/,
      'a symlink to a good file in the folder': /symbolic link/,
      huge: /too large/,
      truncated: /does not match its name/,
      'cut in half': /does not match its name/,
      'one byte appended': /does not match its name/,
      'folder where a file should be': /not a file/,
      'a named pipe where a file should be': /not a file/,
      'a folder with files in it where a file should be': /not a file/,
    };
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
