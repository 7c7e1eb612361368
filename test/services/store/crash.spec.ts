// Writer processes killed with SIGKILL at random moments (during put, seal, push, snapshot, import):
// every change whose put had resolved is there after reopening, and verify passes.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { PracticeReplica } from '../../../src/services/store/practice-replica';
import { newSharedStore } from '../../support/store-fixture';
import { tempDir } from '../../support/temp';
import * as crypto from 'node:crypto';

const KILLS = Number(process.env.CRASH_KILLS ?? 6);

function runAndKill(payload: object, killAfterMs: number): Promise<{ acked: Map<string, string>; removed: Set<string> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'support', 'crash-writer.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
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
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve({ acked, removed }) : reject(new Error(`writer ended by itself (${signal ?? _code})`))));
    child.stdin.end(JSON.stringify(payload));
  });
}

describe('crash campaign (SIGKILL)', () => {
  test(`${KILLS} kills at random moments lose no acknowledged change; verify stays clean`, async () => {
    const store = await newSharedStore();
    const localRoot = path.join(tempDir('cs-crash-'), 'replica');
    const deviceId = crypto.randomBytes(16).toString('hex');
    const everAcked = new Map<string, string>();
    const everRemoved = new Set<string>();
    let start = 0;
    for (let k = 0; k < KILLS; k++) {
      const { acked, removed } = await runAndKill(
        { header: store.header, key: store.key.toString('base64'), localRoot, sharedRoot: store.shared, deviceId, start },
        50 + Math.floor(Math.random() * 400),
      );
      for (const [id, v] of acked) everAcked.set(id, v);
      for (const id of removed) {
        everRemoved.add(id);
        everAcked.delete(id);
      }
      // no waiting here: open itself waits for the killed process's lock to turn stale
      const replica = await PracticeReplica.open({ localRoot, header: store.header, key: store.key, deviceId, deviceName: 'crash', userName: 'crash', lockStaleMs: 2000 });
      for (const [id, version] of everAcked) {
        const hist = await replica.history('notes', id);
        expect(hist.map((h) => h.version)).toContain(version);
      }
      for (const id of everRemoved) expect(await replica.get('notes', id)).toBeUndefined();
      const report = await replica.verify();
      expect(report.problems).toEqual([]);
      start = Math.max(start, ...[...everAcked.keys(), ...everRemoved].map((id) => Number(id.slice(1)) + 1)) + 1;
      await replica.close();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(everAcked.size).toBeGreaterThan(KILLS);
    // the shared folder, whatever was pushed before each kill, verifies too
    const replica = await PracticeReplica.open({ localRoot, header: store.header, key: store.key, deviceId, deviceName: 'crash', userName: 'crash', lockStaleMs: 2000 });
    expect((await replica.verify(store.shared)).problems).toEqual([]);
    await replica.close();
  });
});
