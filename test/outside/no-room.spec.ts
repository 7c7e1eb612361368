// Outside test (host from HOST-API.md only): a shared location that takes no more files.
// docs/ARCHITECTURE.md "A location with no room": ENOSPC/EDQUOT, a server's 507 turn the carrier 'full':
// nothing sent, the others' changes arrive, access$ says `denied` with SHARED_FULL (what happened, that
// nothing is lost, what to do); once there is room the waiting changes go.
// What this showed (each now holds):
//  - 507 with a change waiting: held from the start (denied + words, never in-sync, the change arrives afterwards).
//  - S3 provider quotas answer 403 with <Code>QuotaExceeded</Code> (Ceph RGW and providers built on it):
//    was taken as "no permission"/unreachable, never 'full'; now no room (s3-medium.ts s3Error).
//  - 413 (an upload over the server's body limit, e.g. nginx in front of Nextcloud): was mapped to ENOSPC,
//    so the words said "free space there", which can never help; now its own health 'too-large' with
//    words on the upload limit and the way out (raise it, or move the practice data). The changes still
//    wait behind the file until then: an attachment goes before the records that name it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startLighttpd, startS3rver, type S3TestServer, type TestServer } from '../support/servers';
import { startProxy, type Proxy } from './support/proxy';
import { rounds, setUpFirstPc, until, words, type Pc } from './support/pc';

jest.setTimeout(180_000);

let server: TestServer | undefined;
let proxy: Proxy | undefined;
let pc: Pc | undefined;

afterEach(async () => {
  if (proxy) proxy.rule = () => 'pass';
  pc?.kill();
  await proxy?.close();
  await server?.stop();
  pc = undefined;
  proxy = undefined;
  server = undefined;
});

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

async function webdavPc(): Promise<Pc> {
  server = await startLighttpd({ auth: true, basePath: 'remote.php/dav/files/test/Praxis' });
  proxy = await startProxy(server.url);
  const p = await setUpFirstPc(proxy.url, { username: server.user!, password: server.password! });
  await p.call('put', { c: 'clients', id: 'k1', data: { name: 'Anna Beispiel' } });
  await until(() => p.lastSync()?.state === 'in-sync', 20_000, 'in-sync after the set-up');
  return p;
}

const FULL_WORDS = /kein Platz|no more room/;

test('507 while a change waits: denied in words, never in-sync, the change goes once there is room', async () => {
  pc = await webdavPc();
  proxy!.rule = (req) => (req.method === 'PUT' ? 507 : 'pass');
  await pc.call('put', { c: 'clients', id: 'k2', data: { name: 'Ben Beispiel' } });
  await until(() => pc!.lastAccess()?.state === 'denied', 20_000, 'access denied', () => JSON.stringify(pc!.lastAccess()));
  expect(words(pc.lastAccess()!.detail)).toMatch(FULL_WORDS);
  const from = pc.sync.length;
  await rounds(pc, 3, 30_000);
  expect(pc.sync.slice(from).filter((s) => s.state === 'in-sync' || s.pendingUploads === 0)).toEqual([]);
  proxy!.rule = () => 'pass';
  await until(() => pc!.lastSync()?.state === 'in-sync' && pc!.lastAccess()?.state === 'available', 30_000, 'in-sync after room', () => JSON.stringify(pc!.lastSync()));
  expect(files(server!.root).filter((f) => f.includes(`${path.sep}log${path.sep}`)).length).toBeGreaterThanOrEqual(2);
});

test('S3: a provider quota (403 QuotaExceeded on PUT) is told as a full location, and the change goes after it', async () => {
  const s3: S3TestServer = await startS3rver();
  server = s3;
  proxy = await startProxy(s3.url);
  const host = new URL(proxy.url).host;
  const address = `s3+http://${host}/${s3.bucket}/praxis?region=${s3.region}`;
  pc = await setUpFirstPc(address, { username: s3.accessKeyId, password: s3.secretAccessKey });
  await pc.call('put', { c: 'clients', id: 'k1', data: { name: 'Anna Beispiel' } });
  await until(() => pc!.lastSync()?.state === 'in-sync', 20_000, 'in-sync after the set-up');
  const quota = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>QuotaExceeded</Code><Message>Quota exceeded</Message><BucketName>practice</BucketName><RequestId>tx1</RequestId></Error>';
  proxy.rule = (req) => (req.method === 'PUT' ? { status: 403, body: quota } : 'pass');
  await pc.call('put', { c: 'clients', id: 'k2', data: { name: 'Ben Beispiel' } });
  const from = pc.access.length;
  await until(() => pc!.access.slice(from).some((a) => a.state !== 'available'), 30_000, 'the access state to change', () => JSON.stringify(pc!.lastAccess()));
  await new Promise((r) => setTimeout(r, 12_000));
  const seen = [...new Set(pc.access.slice(from).map((a) => `${a.state}: ${words(a.detail).slice(0, 70)}`))];
  console.log(seen, JSON.stringify(pc.lastSync()));
  expect(pc.sync.slice(-3).filter((s) => s.state === 'in-sync')).toEqual([]);
  // before the fix: the 403 was "no permission", the round ended 'unreachable' ("nicht erreichbar")
  expect(`${pc.lastAccess()!.state}: ${words(pc.lastAccess()!.detail)}`).toMatch(/^denied: .*(kein Platz|no more room)/);
  proxy.rule = () => 'pass';
  await until(() => pc!.lastSync()?.state === 'in-sync', 30_000, 'in-sync after the quota', () => JSON.stringify(pc!.lastSync()));
});

test('413 for one too-large upload: the words name the cause (the upload limit, not "free space") and the way out', async () => {
  pc = await webdavPc();
  // a server whose upload limit is 1 MiB (nginx client_max_body_size in front of a Nextcloud)
  proxy!.rule = (req) => (req.method === 'PUT' && Number(req.headers['content-length'] ?? 0) > 1024 * 1024 ? 413 : 'pass');
  const big = Buffer.alloc(2 * 1024 * 1024, 7).toString('base64');
  await pc.call('putAttachment', { b64: big, meta: { name: 'befund.pdf', mediaType: 'application/pdf' } }).catch(() => undefined);
  await pc.call('put', { c: 'clients', id: 'k3', data: { name: 'Carla Beispiel' } });
  await until(() => pc!.lastAccess()?.state !== 'available', 20_000, 'access to change', () => JSON.stringify(pc!.lastAccess()));
  const shown = words(pc.lastAccess()!.detail);
  // before the fix: SHARED_FULL ("kein Platz mehr … Bitte schaffen Sie dort Platz"), though the server has room
  expect(shown).not.toMatch(FULL_WORDS);
  expect(shown).toMatch(/zu groß|too large/);
  expect(pc.lastAccess()!.state).toBe('denied');
  expect(words(pc.lastAccess()!.detail)).toMatch(/Upload-Grenze.*erhöhen.*umziehen|upload limit.*raised.*move/s);
  expect(pc.lastSync()?.state).not.toBe('in-sync'); // the attachment and the record wait, counted
  // the limit raised: everything goes
  proxy!.rule = () => 'pass';
  await until(() => pc!.lastSync()?.state === 'in-sync', 30_000, 'in-sync once the limit is raised', () => JSON.stringify(pc!.lastSync()));
  expect(pc.lastAccess()!.state).toBe('available');
});
