// Outside test, attacker with write access to the WebDAV share (no passphrase): thousands of entries
// planted in a store folder. Every round lists every device's log folder with one PROPFIND and parses
// the whole 207 answer at once (fast-xml-parser, synchronously, ~0.15–0.35 ms per entry): the host's
// event loop — the host's UI and every other plugin — stands still for seconds, every round (2 s).
// Each planted file that looks like a log file is then stat'ed and read (two requests) and refused; no
// round finished within a minute, and more of them than the refused-file memory holds (4096) are read
// again every round. The parse stall alone also comes without an attacker once a device has written
// some ten thousand log files.
// Fixed: a listing is read in slices that let the event loop go (docs/SERVERS.md), and a round looks at
// no more than a budget of files that do not check out per area, rotating (docs/STORE-FORMAT.md, "A
// round's work on files that do not check out").
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startLighttpd, type TestServer } from '../support/servers';
import { rounds, setUpFirstPc, until, type Pc } from './support/pc';

jest.setTimeout(120_000);

let server: TestServer;
let pc: Pc;
afterAll(async () => {
  pc?.kill();
  await server?.stop();
});

beforeAll(async () => {
  server = await startLighttpd({ auth: true, basePath: 'remote.php/dav/files/test/Praxis' });
  pc = await setUpFirstPc(server.url, { username: server.user!, password: server.password! });
  await pc.call('put', { c: 'clients', id: 'k1', data: { name: 'Anna Beispiel' } });
  await until(() => pc.lastSync()?.state === 'in-sync', 20_000, 'in-sync');
  // planted straight into the server's data folder (lighttpd serves it at once), names that look like log files
  const log = path.join(server.root, 'devices', crypto.randomBytes(16).toString('hex'), 'log');
  fs.mkdirSync(log, { recursive: true });
  for (let i = 1; i <= 10_000; i++) fs.writeFileSync(path.join(log, `${String(i).padStart(10, '0')}-${crypto.randomBytes(32).toString('hex')}`), '');
});

test('10 000 empty files planted in a device log folder do not stall the host’s event loop for a second', async () => {
  await pc.call('loopStart');
  const end = Date.now() + 15_000;
  await until(() => Date.now() > end, 20_000, 'fifteen seconds of work');
  const stalled = await pc.call<number>('loopStop');
  console.log(`longest event-loop delay in the host over 15 s with 10,000 planted files: ${stalled} ms`);
  expect(pc.crashes).toEqual([]);
  expect(stalled < 1000 ? 'under 1 s' : `${stalled} ms`).toBe('under 1 s');
});

test('with 10 000 planted files the carrier still finishes its rounds (refused once, then skipped)', async () => {
  await rounds(pc, 2, 60_000);
  expect(pc.crashes).toEqual([]);
});
