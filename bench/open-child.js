// One open of a replica in a fresh process, on the built code (what the host runs): prints
// {ms, rssMiB, records}. Arguments on stdin.
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist', 'services', 'store');
const { PracticeReplica } = require(path.join(dist, 'practice-replica.js'));
const { SharedFolderExchange } = require(path.join(dist, 'shared-folder-exchange.js'));

async function main() {
  const a = JSON.parse(fs.readFileSync(0, 'utf8'));
  const t0 = performance.now();
  const replica = await PracticeReplica.open({ localRoot: a.localRoot, header: a.header, key: Buffer.from(a.key, 'base64'), deviceId: a.deviceId, deviceName: 'bench', userName: 'bench' });
  if (a.mode === 'cold') {
    const ex = new SharedFolderExchange(replica, { sharedRoot: a.sharedRoot, deviceName: 'bench', userName: 'bench', watch: false });
    await ex.exchange();
    await ex.stop();
  }
  let records = 0;
  for (const col of ['clients', 'appointments', 'session-notes']) records += (await replica.list(col)).length;
  const ms = performance.now() - t0;
  const rssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  await replica.close();
  console.log(JSON.stringify({ ms, rssMiB, records }));
}

void main();
