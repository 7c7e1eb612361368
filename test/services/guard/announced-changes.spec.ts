// The guard on changes announced but not arrived: another PC's changes the cloud client has not brought yet.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCloudPlugin, makeHost, setUpThroughPage, type TestHost } from '../../support/test-host';
import { tempDir, walk } from '../../support/temp';
import { TIMINGS } from '../../support/settings-page';
import { CloudStorageTimings } from '../../../src/services/cloud-storage-service';

const PASS = 'Teekanne-Nordstrand-2026';

async function setUp(h: TestHost, folder: string) {
  const { plugin, out } = await setUpThroughPage(h, folder, PASS);
  expect(out).toMatchObject({ ok: true });
  return plugin;
}

describe('changes announced but not arrived', () => {
  test('the guard says how many changes of another PC the cloud client has not brought yet', async () => {
    const cloudA = tempDir('cs-cloudA-'); // what PC 1 sees of the cloud folder
    const cloudB = tempDir('cs-cloudB-'); // what PC 2 sees: the cloud client lags behind
    const a = makeHost({ deviceName: 'Praxis-PC 1', bind: (c) => c.bind(CloudStorageTimings).toConstantValue(TIMINGS) });
    const pa = await setUp(a, cloudA);
    const sa = await pa.storageProviders[0]!.open();
    await sa.put('clients', 'k0', { n: 0 });
    await sa.flush({ timeoutMs: 5000 });
    fs.cpSync(cloudA, cloudB, { recursive: true }); // synced once
    const b = makeHost({ deviceName: 'Praxis-PC 2', bind: (c) => c.bind(CloudStorageTimings).toConstantValue(TIMINGS) });
    await (await setUp(b, cloudB)).unload();
    for (let i = 1; i <= 3; i++) await sa.put('clients', `k${i}`, { n: i });
    await sa.flush({ timeoutMs: 5000 });
    // deliberate: a heartbeat (500 ms) must pass to announce them; the count is sealed in the presence file, nothing to poll
    await new Promise((r) => setTimeout(r, 700));
    // the cloud client brings PC 1's small presence file first, its log files later
    const pcOne = walk(cloudA).find((f) => f.includes(`${path.sep}log${path.sep}`))!.split(path.sep)[1]!;
    const presence = path.join('devices', pcOne, 'presence');
    fs.copyFileSync(path.join(cloudA, presence), path.join(cloudB, presence));
    const b2 = makeHost({ deviceName: 'Praxis-PC 2', appDataDir: b.env.appDataDir, bind: (c) => c.bind(CloudStorageTimings).toConstantValue(TIMINGS) });
    const pb2 = await loadCloudPlugin(b2);
    const v = await pb2.startupGuards[0]!.check();
    expect(v.kind).toBe('proceed');
    const text = v.kind === 'proceed' ? v.notices.map((n) => n.text.de).join('\n') : '';
    expect(text).toContain('3 Änderungen anderer PCs sind angekündigt');
    await pb2.unload();
    await pa.unload();
  });
});
