// Outside test (a host written from HOST-API.md only, pc-host.cjs): the startup guard and the plugin's
// unload against a WebDAV server that answers the bounded probe and then hangs, or is frozen, or is in
// maintenance (503 with Retry-After, as Nextcloud answers then). HOST-API §4: check() "must settle
// within 10 s, whatever the disk does"; docs/SERVERS.md: "every request has one [time limit] over the
// whole exchange (default 15 s)".
import { startLighttpd, type TestServer } from '../support/servers';
import { startProxy, type Proxy } from './support/proxy';
import { setUpFirstPc, startPc, until, type Pc } from './support/pc';

jest.setTimeout(120_000);

let server: TestServer;
let proxy: Proxy;
let first: Pc;
const pcs: Pc[] = [];

beforeAll(async () => {
  server = await startLighttpd({ auth: true, basePath: 'remote.php/dav/files/test/Praxis' });
  proxy = await startProxy(server.url);
  first = await setUpFirstPc(proxy.url, { username: server.user!, password: server.password! });
  await first.call('put', { c: 'clients', id: 'k1', data: { name: 'Anna Beispiel' } });
  await until(() => first.lastSync()?.state === 'in-sync', 20_000, 'in-sync after the set-up');
  await first.quit();
});
afterEach(async () => {
  proxy.rule = () => 'pass';
  for (const p of pcs.splice(0)) p.kill(); // not a clean quit: that is what the last test measures
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

async function restart(): Promise<Pc> {
  const pc = await startPc({ device: 'Empfang', home: first.home });
  pcs.push(pc);
  return pc;
}

test('the startup guard settles within 10 s when the server answers the probe and then hangs', async () => {
  // the probe lists the address and reads the header; everything below devices/ then hangs
  proxy.rule = (r) => (r.url!.includes('/devices/') ? 'hold' : 'pass');
  const pc = await restart();
  const t = Date.now();
  const verdict = await pc.check();
  const took = Date.now() - t;
  expect({ took: took <= 10_000 ? 'within 10 s' : `${took} ms`, verdict: verdict.kind }).toMatchObject({ took: 'within 10 s' });
});

test('"work offline" on a frozen server answers within 10 s (it needs nothing of the server)', async () => {
  proxy.rule = () => 'hold';
  const pc = await restart();
  const blocked = await pc.check();
  expect(blocked.kind).toBe('blocked');
  expect(blocked.kind === 'blocked' && blocked.actions.map((a) => a.id)).toContain('work-offline');
  const t = Date.now();
  const verdict = await pc.act('work-offline');
  const took = Date.now() - t;
  expect(verdict.kind).toBe('proceed');
  expect(took <= 10_000 ? 'within 10 s' : `${took} ms`).toBe('within 10 s');
});

test('unloading the plugin while the server is in maintenance (503, Retry-After) takes no longer than one request limit (15 s)', async () => {
  const pc = await restart();
  expect((await pc.check()).kind).toBe('proceed');
  await pc.call('open');
  await until(() => pc.lastSync()?.state === 'in-sync', 20_000, 'in-sync');
  proxy.rule = () => 503;
  await pc.call('put', { c: 'clients', id: 'k2', data: { name: 'Ben Beispiel' } });
  await until(() => pc.lastAccess()?.state === 'unavailable', 30_000, 'the maintenance noticed', () => JSON.stringify(pc.lastAccess()));
  const t = Date.now();
  await pc.call('unload', {}, 90_000);
  const took = Date.now() - t;
  expect(took <= 15_000 ? 'within 15 s' : `${took} ms`).toBe('within 15 s');
});
