// Characterization of the real servers that the WebDAV and S3 carriers are tested on (issue #15):
// what each one does with the requests the carriers make. Each expectation is what the server was
// seen to do here, not what a carrier may assume of every server: docs/SERVERS.md ("The servers in
// the tests") has the table. A server that changes its behaviour (a new Debian release) fails here
// first, with the request named, instead of somewhere deep in a carrier test.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { basicAuth, startApache, startLighttpd, startRclone, startS3rver, testCaPem, type S3TestServer, type TestServer } from '../../support/servers';

jest.setTimeout(30_000);

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

/** One request through Node's fetch, with the server's login unless `auth` says otherwise. */
async function dav(
  server: TestServer,
  method: string,
  rel: string,
  opts: { body?: string | Buffer; headers?: Record<string, string>; auth?: 'right' | 'none' | 'wrong'; timeoutMs?: number } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  const auth = opts.auth ?? 'right';
  if (auth === 'right' && server.user) headers.authorization = basicAuth(server)!;
  if (auth === 'wrong') headers.authorization = 'Basic ' + Buffer.from(`${server.user ?? 'test'}:not-the-password`).toString('base64');
  const res = await fetch(new URL(rel, server.url), {
    method,
    headers,
    body: opts.body as RequestInit['body'],
    signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/**
 * The first request after a restart may go out on a kept-alive connection to the old process and
 * fail (ECONNRESET, "other side closed"): fetch does not retry it. Seen with apache; the carriers'
 * bounded retries must take it. Here: one retry, and the socket errors seen are noted.
 */
const socketErrorsAfterRestart: string[] = [];
async function afterRestart<T>(req: () => Promise<T>): Promise<T> {
  try {
    return await req();
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    socketErrorsAfterRestart.push(err.cause?.code ?? err.cause?.message ?? err.message);
    return req();
  }
}

interface Entry {
  href: string;
  collection: boolean;
  props: Record<string, string>;
}

/** The multistatus of a PROPFIND, read with regular expressions (the prefixes differ: D:, lp1:, none). */
function parseMultistatus(xml: string): Entry[] {
  const out: Entry[] = [];
  for (const m of xml.matchAll(/<(?:[\w-]+:)?response\b[^>]*>([\s\S]*?)<\/(?:[\w-]+:)?response>/g)) {
    const body = m[1];
    const href = /<(?:[\w-]+:)?href>([^<]*)</.exec(body)?.[1] ?? '';
    const props: Record<string, string> = {};
    for (const p of ['getlastmodified', 'getcontentlength', 'getetag', 'creationdate', 'getcontenttype', 'displayname']) {
      const v = new RegExp(`<(?:[\\w-]+:)?${p}\\b[^>]*?(?:/>|>([\\s\\S]*?)</(?:[\\w-]+:)?${p}>)`).exec(body);
      if (v) props[p] = v[1] ?? '';
    }
    out.push({ href, collection: /<(?:[\w-]+:)?collection\b/.test(body), props });
  }
  return out;
}

/** A PUT whose body stops halfway: `sent` bytes of `total` are written, then `abort()` cuts the connection. */
function startTornPut(server: TestServer, rel: string, total: number, sent: number): { abort: () => Promise<void> } {
  const u = new URL(rel, server.url);
  const headers: Record<string, string | number> = { 'content-length': total };
  if (server.user) headers.authorization = basicAuth(server)!;
  const req = http.request(u, { method: 'PUT', headers, agent: false });
  req.on('error', () => undefined);
  req.write(Buffer.alloc(sent, 0x61));
  return {
    abort: async () => {
      req.destroy();
      await new Promise((r) => setTimeout(r, 300));
    },
  };
}

const BASE = 'remote.php/dav/files/test/'; // served under a Nextcloud-like path, as the carriers will meet it

interface Expect {
  /** PUT onto an existing file, MKCOL of an existing folder */
  putExisting: number;
  mkcolExisting: number;
  /** PUT into a folder that does not exist */
  putMissingParent: number;
  /** PUT with `If-None-Match: *` onto an existing file, and whether the file was replaced */
  ifNoneMatchExisting: number;
  ifNoneMatchReplaced: boolean;
  /** what PROPFIND Depth: 1 says of a file */
  fileProps: string[];
  /** the ETag header of GET equals the getetag of PROPFIND */
  etagSame: boolean;
  /** a file written straight into the served folder is listed and served at once */
  seesDiskWrites: boolean;
  /** the answers to 4 racing conditional creates of one path may be, and how many of them may win */
  raceStatuses: number[];
  raceWinnersAtMost: number;
  /** while a PUT is halfway, a GET of its path sees … ; after the client gave up, the path holds … */
  tornDuring: 'absent' | 'partial' | 'hangs';
  tornAfter: 'absent' | 'partial';
}

const SERVERS: Array<[string, () => Promise<TestServer>, Expect]> = [
  [
    'lighttpd',
    () => startLighttpd({ auth: true, basePath: BASE }),
    {
      putExisting: 204,
      mkcolExisting: 405,
      putMissingParent: 409,
      ifNoneMatchExisting: 412,
      ifNoneMatchReplaced: false,
      fileProps: ['getcontentlength', 'getetag', 'getlastmodified'],
      etagSame: false, // GET carries no ETag (nor Last-Modified) with this config
      seesDiskWrites: true,
      raceStatuses: [201, 412],
      raceWinnersAtMost: 1,
      tornDuring: 'absent',
      tornAfter: 'absent',
    },
  ],
  [
    'apache2',
    () => startApache({ auth: true, basePath: BASE }),
    {
      putExisting: 204,
      mkcolExisting: 405,
      putMissingParent: 409,
      ifNoneMatchExisting: 412,
      ifNoneMatchReplaced: false,
      fileProps: ['creationdate', 'getcontentlength', 'getetag', 'getlastmodified'],
      etagSame: true,
      seesDiskWrites: true,
      raceStatuses: [201, 204, 412], // check and write are not one step: two creates can both win
      raceWinnersAtMost: 4,
      tornDuring: 'absent',
      tornAfter: 'absent',
    },
  ],
  [
    'rclone',
    () => startRclone({ auth: true, basePath: BASE }),
    {
      putExisting: 201,
      mkcolExisting: 201,
      putMissingParent: 404,
      ifNoneMatchExisting: 201,
      ifNoneMatchReplaced: true,
      fileProps: ['displayname', 'getcontentlength', 'getcontenttype', 'getetag', 'getlastmodified'],
      etagSame: true,
      seesDiskWrites: false, // its directory cache (--dir-cache-time, 5 min by default)
      raceStatuses: [201, 423], // the header is ignored; a PUT that meets another one's lock gets 423 Locked
      raceWinnersAtMost: 4,
      tornDuring: 'hangs', // GET and even PROPFIND of the folder wait for the upload to end
      tornAfter: 'partial', // and what had arrived is then kept under the file's own name
    },
  ],
];

/** What was seen, printed once at the end (for docs/SERVERS.md). */
const seen: Record<string, Record<string, unknown>> = {};
afterAll(() => {
  // eslint-disable-next-line no-console
  if (process.env.SERVERS_SPEC_REPORT) console.log(JSON.stringify({ ...seen, socketErrorsAfterRestart }, null, 1));
});

describe.each(SERVERS)('%s (WebDAV)', (name, start, expected) => {
  let server: TestServer;
  const note = (k: string, v: unknown) => ((seen[name] ??= {})[k] = v);
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('serves its folder under the base path, and a PUT then a GET give back the same bytes', async () => {
    expect(server.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/${BASE}$`));
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
    const put = await dav(server, 'PUT', 'round.bin', { body: bytes });
    expect(put.status).toBe(201);
    const get = await fetch(new URL('round.bin', server.url), { headers: { authorization: basicAuth(server)! } });
    expect(get.status).toBe(200);
    expect(Buffer.from(await get.arrayBuffer())).toEqual(bytes);
    expect(fs.readFileSync(path.join(server.root, 'round.bin'))).toEqual(bytes);
    // a second PUT replaces: 204 (or 200) for an existing file
    const again = await dav(server, 'PUT', 'round.bin', { body: 'x' });
    note('putExisting', again.status);
    expect(again.status).toBe(expected.putExisting);
    expect((await dav(server, 'GET', 'missing.bin')).status).toBe(404);
    expect((await dav(server, 'DELETE', 'round.bin')).status).toBe(204);
    expect((await dav(server, 'GET', 'round.bin')).status).toBe(404);
  });

  it('a PUT needs its parent folder: MKCOL first (MKCOL of an existing folder is 405)', async () => {
    const put = await dav(server, 'PUT', 'log/dev-a/0001.bin', { body: 'x' });
    note('putMissingParent', put.status);
    expect(put.status).toBe(expected.putMissingParent);
    expect(fs.existsSync(path.join(server.root, 'log'))).toBe(false);
    expect((await dav(server, 'MKCOL', 'log/dev-a/')).status).toBe(409); // MKCOL makes one level only
    expect((await dav(server, 'MKCOL', 'log/')).status).toBe(201);
    expect((await dav(server, 'MKCOL', 'log/dev-a/')).status).toBe(201);
    const again = await dav(server, 'MKCOL', 'log/');
    note('mkcolExisting', again.status);
    expect(again.status).toBe(expected.mkcolExisting);
    expect((await dav(server, 'PUT', 'log/dev-a/0001.bin', { body: 'x' })).status).toBe(201);
  });

  it('PROPFIND Depth: 1 lists the folder itself and its children with size, date and ETag', async () => {
    await dav(server, 'MKCOL', 'list/');
    await dav(server, 'MKCOL', 'list/sub/');
    await dav(server, 'PUT', 'list/a%20b.bin', { body: 'hello' }); // a name that needs encoding
    const res = await dav(server, 'PROPFIND', 'list/', { headers: { depth: '1' } });
    expect(res.status).toBe(207);
    const entries = parseMultistatus(res.text);
    const hrefs = entries.map((e) => e.href).sort();
    note('hrefs', hrefs);
    // absolute paths, percent-encoded, folders with a trailing slash; the grandchild is not listed
    expect(hrefs).toEqual([`/${BASE}list/`, `/${BASE}list/a%20b.bin`, `/${BASE}list/sub/`]);
    const file = entries.find((e) => !e.collection)!;
    note('fileProps', Object.keys(file.props).sort());
    expect(Object.keys(file.props).sort()).toEqual(expected.fileProps);
    expect(file.props.getcontentlength).toBe('5');
    expect(Number.isNaN(Date.parse(file.props.getlastmodified))).toBe(false);
    const get = await dav(server, 'GET', 'list/a%20b.bin');
    note('etags', { propfind: file.props.getetag, get: get.headers.get('etag') });
    expect(get.headers.get('etag') === file.props.getetag).toBe(expected.etagSame);
    // a folder that is not there
    expect((await dav(server, 'PROPFIND', 'nowhere/', { headers: { depth: '1' } })).status).toBe(404);
  });

  it('sees a file written straight into its folder on disk (the tests\' fault injection)', async () => {
    await dav(server, 'MKCOL', 'disk/');
    await dav(server, 'PROPFIND', 'disk/', { headers: { depth: '1' } }); // a listing cached before the change
    fs.writeFileSync(path.join(server.root, 'disk', 'dropped.bin'), 'from disk');
    const list = parseMultistatus((await dav(server, 'PROPFIND', 'disk/', { headers: { depth: '1' } })).text);
    const listed = list.some((e) => e.href.endsWith('/disk/dropped.bin'));
    note('diskWriteListed', listed);
    const get = await dav(server, 'GET', 'disk/dropped.bin');
    note('diskWriteGet', get.status);
    expect(listed).toBe(expected.seesDiskWrites);
    expect(get.status).toBe(expected.seesDiskWrites ? 200 : 404);
    if (expected.seesDiskWrites) expect(get.text).toBe('from disk');
  });

  it('If-None-Match: * on an existing file', async () => {
    expect((await dav(server, 'PUT', 'inm.bin', { body: 'first', headers: { 'if-none-match': '*' } })).status).toBe(201);
    const second = await dav(server, 'PUT', 'inm.bin', { body: 'second', headers: { 'if-none-match': '*' } });
    note('ifNoneMatchExisting', second.status);
    expect(second.status).toBe(expected.ifNoneMatchExisting);
    const now = (await dav(server, 'GET', 'inm.bin')).text;
    expect(now === 'second').toBe(expected.ifNoneMatchReplaced);
  });

  it('racing creates with If-None-Match: *: 4 PUTs whose headers all arrive before their bodies', async () => {
    // each sends its headers and half its body, then all finish together: the server decides on
    // the condition before or after the bodies have arrived — that is the race
    const half = 16 * 1024;
    const racers = Array.from({ length: 4 }, (_, i) => {
      const headers: Record<string, string | number> = { 'content-length': 2 * half, 'if-none-match': '*' };
      if (server.user) headers.authorization = basicAuth(server)!;
      const req = http.request(new URL('race.bin', server.url), { method: 'PUT', headers, agent: false });
      const status = new Promise<number>((resolve) => {
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', () => resolve(0));
      });
      req.write(Buffer.alloc(half, 0x30 + i));
      return { req, status, body: Buffer.alloc(2 * half, 0x30 + i).toString() };
    });
    await new Promise((r) => setTimeout(r, 300));
    for (const r of racers) r.req.end(Buffer.alloc(half, r.body.charCodeAt(0)));
    const statuses = (await Promise.all(racers.map((r) => r.status))).sort();
    note('raceStatuses', statuses);
    const winners = statuses.filter((s) => s === 201 || s === 204).length;
    expect(winners).toBeGreaterThanOrEqual(1);
    expect(winners).toBeLessThanOrEqual(expected.raceWinnersAtMost);
    expect(statuses.filter((s) => !expected.raceStatuses.includes(s))).toEqual([]);
    // whatever won, the file is one whole body, never a mix
    expect(racers.map((r) => r.body)).toContain((await dav(server, 'GET', 'race.bin')).text);
  });

  it('a PUT cut off halfway: what a reader sees during it and what stays after', async () => {
    const torn = startTornPut(server, 'torn.bin', 64 * 1024, 32 * 1024);
    await new Promise((r) => setTimeout(r, 400));
    const during = await dav(server, 'GET', 'torn.bin', { timeoutMs: 1000 }).catch((e: Error) => ({ error: e.name }));
    await torn.abort();
    const after = await dav(server, 'GET', 'torn.bin');
    const kind = (r: Reply | { error: string }) =>
      'error' in r ? (r.error === 'TimeoutError' ? 'hangs' : r.error)
      : r.status === 404 ? 'absent'
      : r.status === 200 && r.text.length < 64 * 1024 ? 'partial'
      : `${r.status}/${r.text.length}`;
    note('torn', { during: kind(during), after: `${after.status} ${after.text.length} bytes` });
    expect(kind(during)).toBe(expected.tornDuring);
    expect(kind(after)).toBe(expected.tornAfter);
    if (expected.tornAfter === 'partial') expect(after.text).toBe('a'.repeat(32 * 1024));
  });

  it('Basic auth: 401 with a Basic challenge without a login and with a wrong password', async () => {
    const none = await dav(server, 'PROPFIND', '', { headers: { depth: '0' }, auth: 'none' });
    const wrong = await dav(server, 'PROPFIND', '', { headers: { depth: '0' }, auth: 'wrong' });
    const right = await dav(server, 'PROPFIND', '', { headers: { depth: '0' } });
    note('auth', { none: none.status, wrong: wrong.status, challenge: none.headers.get('www-authenticate') });
    expect(none.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(right.status).toBe(207);
    // the password is in no answer
    expect(none.text + wrong.text).not.toContain(server.password!);
  });

  it('paused, it accepts connections and answers nothing; resumed, it answers', async () => {
    await dav(server, 'PUT', 'paused.bin', { body: 'p' });
    server.pause();
    try {
      await expect(dav(server, 'GET', 'paused.bin', { timeoutMs: 400 })).rejects.toThrow(/abort|timeout/i);
    } finally {
      server.resume();
    }
    expect((await dav(server, 'GET', 'paused.bin')).text).toBe('p');
  });

  it('restarted, it keeps its data and port; while down, a request is refused', async () => {
    await dav(server, 'PUT', 'kept.bin', { body: 'kept' });
    await server.down();
    // on a new connection (fetch may reuse a kept-alive one, which reads as a closed socket, not a refusal)
    const refused = await new Promise<string>((resolve) => {
      const req = http.get(new URL('kept.bin', server.url), { agent: false }, (res) => {
        res.resume();
        resolve('answered');
      });
      req.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
    });
    expect(refused).toBe('ECONNREFUSED');
    await server.up();
    expect((await afterRestart(() => dav(server, 'GET', 'kept.bin'))).text).toBe('kept');
    await server.restart();
    expect((await afterRestart(() => dav(server, 'GET', 'kept.bin'))).text).toBe('kept');
  });
});

describe('rclone with --dir-cache-time 0s', () => {
  it('sees a file written straight into its folder at once', async () => {
    const server = await startRclone({ extraArgs: ['--dir-cache-time', '0s'] });
    try {
      await dav(server, 'PROPFIND', '', { headers: { depth: '1' } });
      fs.writeFileSync(path.join(server.root, 'dropped.bin'), 'from disk');
      expect((await dav(server, 'GET', 'dropped.bin')).text).toBe('from disk');
      const list = parseMultistatus((await dav(server, 'PROPFIND', '', { headers: { depth: '1' } })).text);
      expect(list.map((e) => e.href)).toContain('/dropped.bin');
    } finally {
      await server.stop();
    }
  });
});

describe('TLS with the test CA (lighttpd)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startLighttpd({ tls: true, auth: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('is https on 127.0.0.1 with a caFile', () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(fs.readFileSync(server.caFile!, 'utf8')).toBe(testCaPem());
    expect(testCaPem()).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('fails without the CA: fetch in this process does not know it', async () => {
    const err = await fetch(server.url, { method: 'OPTIONS' }).then(
      () => undefined,
      (e: Error & { cause?: { code?: string } }) => e.cause?.code,
    );
    expect(err).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
  });

  it('works with the CA given to the client (https.Agent / ca option)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request(server.url, { method: 'PROPFIND', headers: { depth: '0', authorization: basicAuth(server)! }, ca: testCaPem(), agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(207);
  });

  it('works through fetch in a node started with NODE_EXTRA_CA_CERTS', async () => {
    const code = `fetch(process.argv[1], { method: 'PROPFIND', headers: { depth: '0', authorization: process.env.AUTH } })
      .then((r) => console.log(r.status), (e) => console.log('failed', e.cause && e.cause.code))`;
    const out = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['-e', code, server.url], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: server.caFile, AUTH: basicAuth(server) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let s = '';
      child.stdout.on('data', (b) => (s += b));
      child.on('exit', () => resolve(s.trim()));
    });
    expect(out).toBe('207');
  });
});

describe('s3rver (S3)', () => {
  let server: S3TestServer;
  let s3: S3Client;
  let plain: S3Client; // no checksums of its own: a streamed body goes as it is, not aws-chunked
  const client = (secretAccessKey: string, accessKeyId = server.accessKeyId, more: Partial<S3ClientConfig> = {}) =>
    new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      maxAttempts: 1,
      ...more,
    });
  const get = async (Key: string) => (await s3.send(new GetObjectCommand({ Bucket: server.bucket, Key }))).Body!.transformToString();
  const errorOf = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: S3ServiceException) => (e.$metadata ? `${e.$metadata.httpStatusCode} ${e.name}` : e.name),
    );
  beforeAll(async () => {
    server = await startS3rver();
    s3 = client(server.secretAccessKey);
    plain = client(server.secretAccessKey, server.accessKeyId, { requestChecksumCalculation: 'WHEN_REQUIRED' });
  });
  afterAll(async () => {
    s3?.destroy();
    plain?.destroy();
    await server?.stop();
  });

  it('starts with its bucket; put, list and get', async () => {
    expect(server).toMatchObject({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', bucket: 'practice' });
    for (const k of ['store/log/a/0002.bin', 'store/log/a/0001.bin', 'store/keys.bin']) {
      await s3.send(new PutObjectCommand({ Bucket: server.bucket, Key: k, Body: `body of ${k}` }));
    }
    const all = await s3.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: 'store/' }));
    expect(all.Contents!.map((o) => o.Key)).toEqual(['store/keys.bin', 'store/log/a/0001.bin', 'store/log/a/0002.bin']);
    expect(all.Contents![0]).toMatchObject({ Size: 'body of store/keys.bin'.length });
    expect(all.Contents![0].ETag).toMatch(/^"[0-9a-f]{32}"$/);
    // incremental listing: only what sorts after the last key seen
    const newer = await s3.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: 'store/log/', StartAfter: 'store/log/a/0001.bin' }));
    expect(newer.Contents!.map((o) => o.Key)).toEqual(['store/log/a/0002.bin']);
    expect(await get('store/log/a/0001.bin')).toBe('body of store/log/a/0001.bin');
    expect(await errorOf(get('store/none.bin'))).toBe('404 NoSuchKey');
    // objects are files under root/<bucket>/
    expect(fs.existsSync(path.join(server.root, server.bucket))).toBe(true);
  });

  it('stores the aws-chunked framing of a streamed body as the object (the SDK\'s default checksums)', async () => {
    // client-s3 sends a stream of known length as `aws-chunked` with a CRC32 trailer unless told
    // requestChecksumCalculation: 'WHEN_REQUIRED'; s3rver does not decode it and keeps the framing
    const put = (c: S3Client, Key: string) =>
      c.send(new PutObjectCommand({ Bucket: server.bucket, Key, Body: Readable.from([Buffer.from('hello stream')]), ContentLength: 12 }));
    await put(s3, 'store/chunked-default.bin');
    await put(plain, 'store/chunked-plain.bin');
    const stored = await get('store/chunked-default.bin');
    seen.s3rver = { ...seen.s3rver, streamedDefault: stored };
    expect(stored).toMatch(/^c\r\nhello stream\r\n0\r\nx-amz-checksum-crc32:.*\r\n\r\n$/);
    expect(await get('store/chunked-plain.bin')).toBe('hello stream');
    // a Buffer or string body is sent whole with an x-amz-checksum header: stored as it is
    await s3.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'store/buffer.bin', Body: Buffer.from('hello buffer') }));
    expect(await get('store/buffer.bin')).toBe('hello buffer');
  });

  it('ignores IfNoneMatch: "*": an existing object is replaced', async () => {
    const Key = 'store/inm.bin';
    await s3.send(new PutObjectCommand({ Bucket: server.bucket, Key, Body: 'first', IfNoneMatch: '*' }));
    const second = await errorOf(s3.send(new PutObjectCommand({ Bucket: server.bucket, Key, Body: 'second', IfNoneMatch: '*' })));
    seen.s3rver = { ...seen.s3rver, ifNoneMatchExisting: second };
    expect(second).toBe('ok');
    expect(await get(Key)).toBe('second');
  });

  it('does not check SigV4 signatures: a wrong secret is let in, only an unknown access key gets 403', async () => {
    const wrongSecret = client('not-the-secret');
    const wrongKey = client(server.secretAccessKey, 'NOBODY');
    try {
      const a = await errorOf(wrongSecret.send(new ListObjectsV2Command({ Bucket: server.bucket })));
      const b = await errorOf(wrongKey.send(new ListObjectsV2Command({ Bucket: server.bucket })));
      seen.s3rver = { ...seen.s3rver, wrongSecret: a, wrongKey: b };
      expect(a).toBe('ok');
      expect(b).toBe('403 InvalidAccessKeyId');
    } finally {
      wrongSecret.destroy();
      wrongKey.destroy();
    }
  });

  it('keeps a truncated object when the upload is cut off', async () => {
    // the SDK sends a body that stops halfway; the request is then aborted (the connection is cut)
    const Key = 'store/torn.bin';
    let pushed = false;
    const body = new Readable({
      read() {
        if (!pushed) this.push(Buffer.alloc(32 * 1024, 0x62));
        pushed = true; // and then nothing more
      },
    });
    const put = await errorOf(
      plain.send(new PutObjectCommand({ Bucket: server.bucket, Key, Body: body, ContentLength: 64 * 1024 }), {
        abortSignal: AbortSignal.timeout(400),
      }),
    );
    expect(put).not.toBe('ok');
    await new Promise((r) => setTimeout(r, 300));
    const outcome = await get(Key).then(
      (s) => `${s.length} bytes`,
      (e: S3ServiceException) => `${e.$metadata?.httpStatusCode} ${e.name}`,
    );
    seen.s3rver = { ...seen.s3rver, torn: outcome };
    expect(outcome).toBe(`${32 * 1024} bytes`);
  });

  it('a bucket that does not exist: 404 NoSuchBucket', async () => {
    expect(await errorOf(s3.send(new ListObjectsV2Command({ Bucket: 'nobucket' })))).toBe('404 NoSuchBucket');
    // and creating one works (a test can make a second bucket)
    expect(await errorOf(s3.send(new CreateBucketCommand({ Bucket: 'second' })))).toBe('ok');
  });

  it('restarted, it keeps its objects; paused, it answers nothing', async () => {
    await s3.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'store/kept.bin', Body: 'kept' }));
    await server.restart();
    expect(await get('store/kept.bin')).toBe('kept');
    server.pause();
    try {
      const hung = await fetch(server.url, { signal: AbortSignal.timeout(400) }).then(
        () => 'answered',
        (e: Error) => e.name,
      );
      expect(hung).toBe('TimeoutError');
    } finally {
      server.resume();
    }
    expect(await get('store/kept.bin')).toBe('kept');
  });
});

