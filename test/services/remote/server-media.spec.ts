// The same medium contract on every kind of shared location, against real servers on 127.0.0.1:
// a folder, lighttpd (honours If-None-Match), apache2 mod_dav_fs (lets racing creates through),
// rclone serve webdav (serves torn uploads), s3rver (ignores conditions, keeps truncated objects).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FolderMedium, StatCache, type Medium } from '../../../src/services/store/medium';
import { WebDavMedium } from '../../../src/services/remote/webdav-medium';
import { S3Medium } from '../../../src/services/remote/s3-medium';
import { BadFileError, ReplicaFolder, readBounded } from '../../../src/services/store/replica-folder';
import { Paths } from '../../../src/services/store/format';
import { createHeader } from '../../../src/services/crypto/store-crypto';
import { startApache, startLighttpd, startRclone, startS3rver, testCaPem, type TestServer } from '../../support/servers';
import { tempDir } from '../../support/temp';
import { TEST_KDF } from '../../support/store-fixture';

jest.setTimeout(60_000);

interface Kind {
  name: string;
  start(): Promise<{ server?: TestServer; medium: Medium; wrongLogin?: Medium; honoursCreate: boolean }>;
}

const KINDS: Kind[] = [
  { name: 'folder', start: async () => ({ medium: new FolderMedium(tempDir('cs-medium-')), honoursCreate: false }) },
  {
    name: 'lighttpd (Basic auth, TLS with a test CA)',
    start: async () => {
      const server = await startLighttpd({ auth: true, tls: true });
      const ca = testCaPem();
      return {
        server,
        medium: new WebDavMedium(server.url, { user: server.user!, password: server.password! }, { ca, attempts: 2 }),
        wrongLogin: new WebDavMedium(server.url, { user: server.user!, password: 'not-the-password' }, { ca, attempts: 1 }),
        honoursCreate: true,
      };
    },
  },
  {
    name: 'apache2 mod_dav_fs (Basic auth, under a Nextcloud-like path)',
    start: async () => {
      const server = await startApache({ auth: true, basePath: 'remote.php/dav/files/praxis/' });
      return {
        server,
        medium: new WebDavMedium(server.url, { user: server.user!, password: server.password! }, { attempts: 2 }),
        wrongLogin: new WebDavMedium(server.url, { user: 'someone-else', password: server.password! }, { attempts: 1 }),
        honoursCreate: false,
      };
    },
  },
  { name: 'rclone serve webdav', start: async () => { const server = await startRclone({}); return { server, medium: new WebDavMedium(server.url, undefined, { attempts: 2 }), honoursCreate: false }; } },
  {
    name: 's3rver',
    start: async () => {
      const s = await startS3rver();
      const at = { endpoint: s.endpoint, bucket: s.bucket, prefix: 'praxis/daten', region: s.region };
      return {
        server: s,
        medium: new S3Medium(at, { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }, { attempts: 2 }),
        // s3rver checks the access key, not the signature (a wrong secret passes there; real S3 says 403)
        wrongLogin: new S3Medium(at, { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'wrong-secret' }, { attempts: 1 }),
        honoursCreate: false,
      };
    },
  },
];

const codeOf = (e: unknown) => (e as { code?: string }).code;
const hex = (n: number) => crypto.randomBytes(n).toString('hex');

describe.each(KINDS)('medium: $name', (kind) => {
  let env: Awaited<ReturnType<Kind['start']>>;
  beforeAll(async () => {
    env = await kind.start();
  });
  afterAll(async () => {
    for (const m of [env?.medium, env?.wrongLogin]) (m as { close?: () => void } | undefined)?.close?.();
    await env?.server?.stop();
  });

  test('an empty location: exists, lists nothing, says ENOENT for what is not there', async () => {
    const m = env.medium;
    expect(await m.exists('')).toBe(true);
    expect(await m.list('').catch((e) => (codeOf(e) === 'ENOENT' ? [] : Promise.reject(e)))).toEqual([]);
    await expect(m.stat('nothing-here')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(m.read('nothing-here', 1000)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await m.exists('devices')).toBe(false);
  });

  test('write-once files in new folders: listed with kind and size, read back exactly, bounded reads refuse larger files unread', async () => {
    const m = env.medium;
    const dev = hex(16);
    const bytes = crypto.randomBytes(3000);
    const rel = Paths.segment(dev, 1, crypto.createHash('sha256').update(bytes).digest('hex'));
    await m.write(rel, bytes, 'create');
    expect(await m.list('devices')).toContainEqual({ name: dev, kind: 'dir' });
    const listed = await m.list(Paths.logDir(dev));
    expect(listed.map(({ name, kind }) => ({ name, kind }))).toEqual([{ name: path.basename(rel), kind: 'file' }]);
    // a server's listing says the size (the carrier checks its own files by it); a folder's does not
    expect(listed[0]!.size).toBe(m.root === undefined ? 3000 : undefined);
    expect((await m.stat(rel)).size).toBe(3000);
    expect((await m.read(rel, 3000)).equals(bytes)).toBe(true);
    await expect(m.read(rel, 2999)).rejects.toMatchObject({ code: 'EFBIG' });
    await expect(readBounded(m, rel, 100, true)).rejects.toBeInstanceOf(BadFileError);
    expect(await m.exists(Paths.logDir(dev))).toBe(true);
  });

  test('a create over an existing name never fails; a server that honours If-None-Match keeps the first bytes; replace replaces', async () => {
    const m = env.medium;
    const rel = path.join('keys', hex(32));
    await m.write(rel, Buffer.from('first'), 'create');
    await m.write(rel, Buffer.from('second'), 'create');
    const kept = (await m.read(rel, 100)).toString();
    if (env.honoursCreate) expect(kept).toBe('first');
    else expect(['first', 'second']).toContain(kept);
    await m.write(rel, Buffer.from('third'), 'replace');
    expect((await m.read(rel, 100)).toString()).toBe('third');
  });

  test('the store header: written once through the medium, read back, a second one refused', async () => {
    const sub = env.medium;
    const { header } = await createHeader('Teekanne-Nordstrand-2026', TEST_KDF);
    const before = await ReplicaFolder.readHeader(sub);
    expect(before.kind).toBe('missing');
    await ReplicaFolder.writeHeader(sub, header);
    const read = await ReplicaFolder.readHeader(sub);
    expect(read).toMatchObject({ kind: 'ok', header: { storeId: header.storeId } });
    const other = await createHeader('Teekanne-Nordstrand-2026', TEST_KDF);
    await expect(ReplicaFolder.writeHeader(sub, other.header)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await ReplicaFolder.readHeader(sub)).toMatchObject({ kind: 'ok', header: { storeId: header.storeId } });
  });

  test('a wrong login is told apart (EAUTH), and never appears in an error text', async () => {
    if (!env.wrongLogin) return expect(kind.name).toMatch(/folder|rclone/); // no login on this one
    const e = await env.wrongLogin.list('').then(() => undefined, (x: unknown) => x);
    expect(codeOf(e)).toBe('EAUTH');
    const text = `${(e as Error).message} ${(e as Error).stack}`;
    expect(text).not.toContain('not-the-password');
    expect(text).not.toContain('wrong-secret');
    if (env.server?.password) expect(text).not.toContain(env.server.password);
  });

  test('a server that is down fails with a network code at once; one that hangs, at the time limit', async () => {
    if (!env.server) return expect(kind.name).toBe('folder');
    const s = env.server;
    await s.down();
    try {
      const t0 = Date.now();
      const e = await env.medium.list('').then(() => undefined, (x: unknown) => x);
      // refused, or a kept-alive connection the server closed: both a network code, never a status
      expect(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']).toContain(codeOf(e));
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      await s.up();
    }
    const hanging = kind.name === 's3rver' ? undefined : new WebDavMedium(s.url, s.user ? { user: s.user, password: s.password! } : undefined, { timeoutMs: 800, attempts: 1, ca: s.caFile ? fs.readFileSync(s.caFile, 'utf8') : undefined });
    const probe =
      hanging ??
      new S3Medium({ endpoint: (s as unknown as { endpoint: string }).endpoint, bucket: 'practice', prefix: '', region: 'us-east-1' }, { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, { timeoutMs: 800, attempts: 1 });
    s.pause();
    try {
      const t0 = Date.now();
      const e = await probe.list('').then(() => undefined, (x: unknown) => x);
      expect(codeOf(e)).toBe('ETIMEDOUT');
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      s.resume();
      (probe as { close(): void }).close();
    }
    expect(await env.medium.exists('')).toBe(true); // and after it comes back, all is as before
  });
});

describe('the stat cache of a server medium', () => {
  test('believes a listing for its 2 s, and drops what is older now and then (a PC that runs for weeks)', () => {
    const c = new StatCache(2000);
    const st = { kind: 'file' as const, size: 1, mtimeMs: 0, ctimeMs: 0 };
    const t0 = 1_000_000;
    for (let i = 0; i < 1000; i++) c.set(`devices/a/log/${i}`, st, t0);
    expect(c.get('devices/a/log/5', t0 + 1999)).toEqual(st);
    expect(c.get('devices/a/log/5', t0 + 2000)).toBeUndefined(); // not believed once 2 s old
    expect(c.size).toBe(1000);
    c.set('devices/a/log/new', st, t0 + 10_000); // a listing 10 s later: the old entries go
    expect(c.size).toBe(1);
    expect(c.get('devices/a/log/new', t0 + 10_001)).toEqual(st);
  });
});
