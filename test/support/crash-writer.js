// A writer process for the crash campaign: opens a replica (built code in dist/), writes records as
// fast as it can while exchanging with the shared folder and snapshotting often, and prints
// "ack <id> <version>" after each put resolved. The test kills it with SIGKILL at a random moment.
// The store key arrives on stdin (never an argument or an environment variable). With `idle` it only
// holds the replica open (a second live window) and writes nothing; SIGTERM ends it normally.
const path = require('node:path');
const root = path.resolve(__dirname, '..', '..');
const { PracticeReplica } = require(path.join(root, 'dist/services/store/practice-replica.js'));
const { SharedFolderExchange } = require(path.join(root, 'dist/services/store/shared-folder-exchange.js'));

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const { header, key, localRoot, sharedRoot, deviceId, start, idle } = JSON.parse(input);
  const replica = await PracticeReplica.open({
    localRoot, header, key: Buffer.from(key, 'base64'), deviceId, deviceName: 'crash', userName: 'crash',
    snapshotEvery: 40, sealDelayMs: 1, lockStaleMs: 2000,
  });
  const ex = new SharedFolderExchange(replica, { sharedRoot, deviceName: 'crash', userName: 'crash', pollMs: 20, heartbeatMs: 200, watch: false });
  ex.start();
  process.stdout.write('ready\n');
  if (idle) return;
  for (let i = start; ; i++) {
    const id = `r${i}`;
    const op = i % 7 === 3 ? replica.remove('notes', `r${i - 1}`).then(() => ({ version: 'removed' })) : replica.put('notes', id, { i, text: 'Sitzungsnotiz '.repeat(20) });
    const rec = await op;
    process.stdout.write(`ack ${i % 7 === 3 ? `r${i - 1}` : id} ${rec.version}\n`);
    if (i % 25 === 0) await replica.importRecords([{ collection: 'imported', id: `i${i}`, data: { i } }]);
  }
});
