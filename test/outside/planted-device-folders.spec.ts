// Outside test, attacker with write access to the WebDAV share (no passphrase): 3,000 planted device
// folders (devices/<random id>/ with a `device` and a `presence` file of random bytes, and an empty
// `log/`), on a server 15 ms away (a proxy delays each request: a hosted Nextcloud across the internet).
// docs/STORE-FORMAT.md bounds the presences of devices without an authenticated card to 64 looks a
// round, but leaves the full check "not bounded": every 60 s it lists every device folder and its
// log folder, one request each (and more), so its cost grows with the planted folders × the server's
// latency, and it runs inside the round: while it runs nothing is sent or received. This showed that
// a round which included the full check held the PC for 60 s; the full check now looks only into the
// folders of devices this PC knows (folder-audit.ts), and the spec holds the bound.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startLighttpd, type TestServer } from '../support/servers';
import { startProxy, type Proxy } from './support/proxy';
import { setUpFirstPc, until, type Pc } from './support/pc';

jest.setTimeout(400_000);

const PLANTED = 3000;
/** Long enough to hold the first full check (60 s after the PC started). */
const WATCH_MS = 80_000;
let server: TestServer;
let proxy: Proxy;
let pc: Pc;
afterAll(async () => {
  pc?.kill();
  await proxy?.close();
  await server?.stop();
});

beforeAll(async () => {
  server = await startLighttpd({ auth: true, basePath: 'remote.php/dav/files/test/Praxis' });
  proxy = await startProxy(server.url);
  pc = await setUpFirstPc(proxy.url, { username: server.user!, password: server.password! });
  await pc.call('put', { c: 'clients', id: 'k1', data: { name: 'Anna Beispiel' } });
  await until(() => pc.lastSync()?.state === 'in-sync', 20_000, 'in-sync');
  for (let i = 0; i < PLANTED; i++) {
    const dir = path.join(server.root, 'devices', crypto.randomBytes(16).toString('hex'));
    fs.mkdirSync(path.join(dir, 'log'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'device'), crypto.randomBytes(300));
    fs.writeFileSync(path.join(dir, 'presence'), crypto.randomBytes(200));
  }
  proxy.delayMs = 15;
});

test('3,000 planted device folders on a server 15 ms away: no round (full check included) holds the PC for more than 20 s', async () => {
  const at: number[] = [];
  let last = pc.lastSync()?.lastExchangeAt;
  const seenBefore = proxy.seen.length;
  const start = Date.now();
  // watch past the first full check: every round's end, as the host sees it
  await until(
    () => {
      const now = pc.lastSync()?.lastExchangeAt;
      if (now && now !== last) {
        last = now;
        at.push(Date.now());
      }
      return Date.now() - start > WATCH_MS;
    },
    200_000,
    `${WATCH_MS / 1000} s of rounds`,
  );
  const gaps = [...at, Date.now()].map((t, i) => t - (i ? at[i - 1]! : start)); // the gap still open at the end counts
  const requests = proxy.seen.length - seenBefore;
  console.log(`rounds ended: ${at.length}; longest gap ${Math.max(...gaps)} ms; requests in ${WATCH_MS / 1000} s: ${requests}`);
  expect(pc.crashes).toEqual([]);
  // a round every 2 s (here ~4–6 s: each looks at 64 planted folders 15 ms away): none may hold the PC 20 s
  expect(Math.max(...gaps)).toBeLessThan(20_000);
  // rounds go on, and what 3,000 planted folders may cost (a round every 2 s of ~10 requests and the 64 looks a round)
  expect(at.length).toBeGreaterThanOrEqual(WATCH_MS / 10_000);
  expect(requests).toBeLessThan((WATCH_MS / 2000) * (10 + 64 * 2));
});
