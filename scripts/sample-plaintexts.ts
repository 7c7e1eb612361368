// Prints the plaintext of every file kind of the store format, made by the real code, for the
// "Sample plaintexts" of docs/STORE-FORMAT.md: `npx tsx scripts/sample-plaintexts.ts`.
// Two devices in temporary folders write a few records, both change the passphrase while apart
// (a crossing, so a link file is written too), and every file is decrypted with the keys they end
// with. Long base64 and hashes are shortened with "…". Nothing of this machine is printed.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createHeader, decrypt } from '../src/services/crypto/store-crypto';
import { keyringFromPassphrase } from '../src/services/crypto/keyring';
import { Contexts, Paths } from '../src/services/store/format';
import { PracticeReplica } from '../src/services/store/practice-replica';
import { ReplicaFolder } from '../src/services/store/replica-folder';
import { SharedFolderExchange } from '../src/services/store/shared-folder-exchange';

const FIRST = 'Beispiel-Passwort eins';
const NEW_A = 'Beispiel-Passwort zwei';
const NEW_B = 'Beispiel-Passwort drei';

function shorten(v: unknown): unknown {
  if (typeof v === 'string') {
    if (/^[0-9a-f]{64}$/.test(v)) return `${v.slice(0, 8)}…`;
    if (v.length >= 20 && /^[A-Za-z0-9+/]+={0,2}$/.test(v) && !/^[0-9a-f]+$/.test(v)) return `${v.slice(0, 8)}…`;
    return v;
  }
  if (Array.isArray(v)) return v.map(shorten);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [/^[0-9a-f]{64}$/.test(k) ? `${k.slice(0, 8)}…` : k, shorten(x)]));
  return v;
}

/** One line, with a space after ":" and ",". */
function flat(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(flat).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${flat(x)}`).join(', ')}}`;
  return JSON.stringify(v);
}

/** JSON with two-space indents; a short value, and a list of scalars (a version tuple), stay on one line. */
function pretty(v: unknown, indent = ''): string {
  const scalars = Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object' || (Array.isArray(x) && x.every((y) => typeof y !== 'object')));
  if (v === null || typeof v !== 'object' || scalars || flat(v).length + indent.length <= 100) return flat(v);
  const inner = indent + '  ';
  if (Array.isArray(v)) return `[\n${v.map((x) => inner + pretty(x, inner)).join(',\n')}\n${indent}]`;
  return `{\n${Object.entries(v).map(([k, x]) => `${inner}${JSON.stringify(k)}: ${pretty(x, inner)}`).join(',\n')}\n${indent}}`;
}

function show(title: string, v: unknown): void {
  console.log(`## ${title}\n${pretty(shorten(v))}\n`);
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'store-samples-'));
  try {
    const shared = path.join(tmp, 'shared');
    fs.mkdirSync(shared);
    const { header, storeKey } = await createHeader(FIRST);
    await ReplicaFolder.writeHeader(shared, header);
    const sid = header.storeId;
    const device = async (name: string, user: string) => {
      const id = crypto.randomBytes(16).toString('hex');
      const replica = await PracticeReplica.open({ localRoot: path.join(tmp, name.replace(/\W/g, '')), header, key: storeKey, deviceId: id, deviceName: name, userName: user, sealDelayMs: 60_000 });
      const exchange = new SharedFolderExchange(replica, { sharedRoot: shared, deviceName: name, userName: user, watch: false });
      return { id, replica, exchange };
    };
    const a = await device('Praxis-PC 1', 'empfang');
    const b = await device('Praxis-PC 2', 'behandlung');

    const first = await a.replica.put('patients', 'p-0001', { name: 'Muster, Erika', born: '1970-01-01' });
    await a.replica.put('patients', 'p-0002', { name: 'Beispiel, Max', born: '1985-06-15' });
    const jname = fs.readdirSync(path.join(a.replica.local.root, 'journal')).sort()[0]!;
    const journal = decrypt(a.replica.keyring, sid, Contexts.journal(a.id, jname), fs.readFileSync(path.join(a.replica.local.root, 'journal', jname)));
    await a.replica.sealNow();
    await a.replica.put('patients', 'p-0001', { name: 'Muster, Erika', born: '1970-01-01', phone: '030 1234567' }, { baseVersion: first.version });
    await a.replica.sealNow();
    await a.exchange.exchange();
    await b.exchange.exchange();
    await a.exchange.exchange();
    const snap = await a.replica.writeSnapshot();

    // A crossing: both change the passphrase before either has seen the other's key file.
    await a.replica.changePassphrase(NEW_A, 'Praxis-PC 1');
    await b.replica.changePassphrase(NEW_B, 'Praxis-PC 2');
    for (const d of [a, b, a, b]) await d.exchange.exchange();
    // The loser (older by createdAt) is told and enters the winner's passphrase; it then links its own key.
    const [loser, winPass] = a.replica.keyState.upToDate ? [b, NEW_A] : [a, NEW_B];
    const files = await ReplicaFolder.keyFilesAt(loser.replica.local.root, sid);
    const r = await keyringFromPassphrase(header, files, winPass, loser.replica.keyring);
    if (r.kind !== 'ok') throw new Error(`entering the winning passphrase: ${r.kind}`);
    for (const id of r.keyring.ids) loser.replica.keyring.add(id, r.keyring.get(id)!);
    await loser.replica.refreshKeys();
    await a.replica.put('patients', 'p-0002', { name: 'Beispiel, Max', born: '1985-06-15', insurance: 'AOK' });
    await a.replica.sealNow();
    for (const d of [a, b, a, b]) await d.exchange.exchange();
    const keys = loser.replica.keyring;

    show(`Header (${Paths.header})`, JSON.parse(fs.readFileSync(path.join(shared, Paths.header), 'utf8')));
    for (const f of await ReplicaFolder.keyFilesAt(shared, sid)) show(`${f.file.t === 'key' ? 'Key' : 'Link'} file (keys/<sha256>)`, f.file);
    show('Device card (devices/<deviceId>/device)', JSON.parse(decrypt(keys, sid, Contexts.device(a.id), fs.readFileSync(path.join(shared, Paths.deviceFile(a.id)))).toString('utf8')));
    show('Presence (devices/<deviceId>/presence)', JSON.parse(decrypt(keys, sid, Contexts.presence(a.id), fs.readFileSync(path.join(shared, Paths.presence(a.id)))).toString('utf8')));
    for (const n of fs.readdirSync(path.join(shared, Paths.logDir(a.id))).sort()) {
      const bytes = fs.readFileSync(path.join(shared, Paths.logDir(a.id), n));
      const seq = Number(n.slice(0, 10));
      console.log(`(log file ${seq}: envelope ${bytes.subarray(0, 4).toString('ascii')}${bytes[3] === 0x32 ? ` + key id ${bytes.subarray(4, 20).toString('hex')}` : ''}, ${bytes.length} bytes)`);
      show(`Log file (devices/<deviceId>/log/${n.slice(0, 10)}-<sha256>)`, JSON.parse(decrypt(keys, sid, Contexts.segment(a.id, seq), bytes).toString('utf8')));
    }
    if (snap) {
      const bytes = fs.readFileSync(path.join(shared, Paths.snapshot(snap.device, snap.seq, snap.hash)));
      const lines = zlib.gunzipSync(decrypt(keys, sid, Contexts.snapshot(snap.device, snap.seq), bytes)).toString('utf8').split('\n');
      show('Snapshot, line 1 (header)', JSON.parse(lines[0]!));
      show('Snapshot, line 2 (a batch of records)', JSON.parse(lines[1]!));
      console.log(`(snapshot: ${lines.length - 1} lines, each ending in \\n)`);
    }
    show(`Journal entry (journal/<version>, local replica only)`, JSON.parse(journal.toString('utf8')));
    console.log(`(device ids: Praxis-PC 1 = ${a.id}, Praxis-PC 2 = ${b.id}; passphrase crossing won by ${loser === a ? 'Praxis-PC 2' : 'Praxis-PC 1'})`);
    await a.replica.close();
    await b.replica.close();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
