// One open of a replica in a fresh process, on the built code (what the host runs): prints
// {ms, rssMiB, records} for the open and a list() of every collection after it, {openMs, openCpuMs,
// openRssMiB} for the open alone (until the replica is ready), listMs for the listing — and, when asked, history() timings and puts against write-file-atomic
// measured after the open (in this same process, on the opened replica). Arguments on stdin.
const fs = require('node:fs');
const path = require('node:path');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const a = JSON.parse(fs.readFileSync(0, 'utf8'));
  // `root`: another checkout's build (the code before a change, for --open-only --before)
  const dist = path.join(a.root ?? path.join(__dirname, '..'), 'dist', 'services', 'store');
  const { PracticeReplica } = require(path.join(dist, 'practice-replica.js'));
  const { SharedFolderExchange } = require(path.join(dist, 'shared-folder-exchange.js'));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const replica = await PracticeReplica.open({ localRoot: a.localRoot, header: a.header, key: Buffer.from(a.key, 'base64'), deviceId: a.deviceId, deviceName: 'bench', userName: 'bench' });
  if (a.mode === 'cold') {
    const ex = new SharedFolderExchange(replica, { sharedRoot: a.sharedRoot, deviceName: 'bench', userName: 'bench', watch: false });
    await ex.exchange();
    await ex.stop();
  }
  // ready: the open resolved (the host may read and write); then every record's data read once, as a
  // list() of every collection does (a snapshot of version 4 parses a record's data when first read)
  const openMs = performance.now() - t0;
  const openCpu = process.cpuUsage(cpu0);
  const openRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  const t1 = performance.now();
  let records = 0;
  for (const col of ['clients', 'appointments', 'session-notes']) records += (await replica.list(col)).length;
  const listMs = performance.now() - t1;
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const rssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  // CPU time of this process (all its threads: GC helpers too), beside the wall clock: on a shared machine the wall clock waits for other jobs
  const out = { ms, cpuMs: (cpu.user + cpu.system) / 1000, rssMiB, records, openMs, openCpuMs: (openCpu.user + openCpu.system) / 1000, openRssMiB, listMs };
  if (a.history) {
    // history() of records spread over the practice, each the first call for its record (nothing cached)
    const times = [];
    let versions = 0;
    for (const [col, id] of a.history) {
      const t = performance.now();
      const h = await replica.history(col, id);
      times.push(performance.now() - t);
      versions = Math.max(versions, h.length);
    }
    Object.assign(out, { historyMs: median(times), historyMaxMs: Math.max(...times), historyVersions: versions });
  }
  if (a.puts) {
    // puts on the opened practice, interleaved with write-file-atomic writes of the same bytes
    const writeFileAtomic = require('write-file-atomic');
    const body = { text: 'x'.repeat(2048 - 12) };
    const bytes = Buffer.from(JSON.stringify(body));
    const dir = fs.mkdtempSync(path.join(a.scratch, 'atomic-'));
    const put = [];
    const wfa = [];
    for (let i = 0; i < a.puts; i++) {
      let t = performance.now();
      await replica.put('notes', `n${i}`, body);
      put.push(performance.now() - t);
      t = performance.now();
      await writeFileAtomic(path.join(dir, `a${i}`), bytes, { fsync: true });
      wfa.push(performance.now() - t);
    }
    Object.assign(out, { putMs: median(put), wfaMs: median(wfa) });
  }
  if (a.mode === 'snapshot') await replica.writeSnapshot(); // that code's own snapshot, for its warm opens
  await replica.close();
  console.log(JSON.stringify(out));
}

void main();
