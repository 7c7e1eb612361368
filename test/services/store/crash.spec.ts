// Writer processes killed with SIGKILL at random moments (during put, seal, push, snapshot, import):
// every change whose put had resolved is there after reopening, and verify passes.
import { crashCampaign } from '../../reliability/faults';

const KILLS = Number(process.env.CRASH_KILLS ?? 6);

describe('crash campaign (SIGKILL)', () => {
  test(`${KILLS} kills at random moments lose no acknowledged change; verify stays clean`, async () => {
    const r = await crashCampaign(KILLS);
    expect(r.failures).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.kills).toBe(KILLS);
    expect(r.acknowledged).toBeGreaterThan(KILLS);
  });

  test('every kill followed by the next start within a second (an app restarted at once): nothing lost, verify clean', async () => {
    // a fixed draw: killed 170 ms after it is ready, the next writer 300 ms after the kill, checked only after the last
    const r = await crashCampaign(4, () => 0.3);
    expect(r.failures).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.quickRestarts).toBe(3);
  });
});
