// A writer process for the crash campaign: opens a replica (built code in dist/), writes records as
// fast as it can while exchanging with the shared folder and snapshotting often, and prints
// "ack <id> <version>" after each put resolved. The test kills it with SIGKILL at a random moment.
// The store key arrives on stdin (never an argument or an environment variable). With `idle` it only
// holds the replica open (a second live window) and writes nothing; SIGTERM ends it normally.
// With `medium` the shared copy is on a server (the campaign's server schedules: a PC's worker killed
// mid-upload): { kind: 'webdav', url, login? } or { kind: 's3', at, login }, `pauseMs` between puts, and
// `exchange`: more options of its carrier (the campaign's PCs' timings).
const path = require('node:path');
const root = path.resolve(__dirname, '..', '..');
const { PracticeReplica } = require(path.join(root, 'dist/services/store/practice-replica.js'));
const { SharedFolderExchange } = require(path.join(root, 'dist/services/store/shared-folder-exchange.js'));

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const { header, key, localRoot, sharedRoot, deviceId, start, idle, medium: spec, pauseMs, exchange } = JSON.parse(input);
  let medium;
  if (spec && spec.kind === 'webdav') {
    const { WebDavMedium } = require(path.join(root, 'dist/services/remote/webdav-medium.js'));
    medium = new WebDavMedium(spec.url, spec.login, { timeoutMs: 3000 });
  } else if (spec && spec.kind === 's3') {
    const { S3Medium } = require(path.join(root, 'dist/services/remote/s3-medium.js'));
    medium = new S3Medium(spec.at, spec.login, { timeoutMs: 3000 });
  }
  const replica = await PracticeReplica.open({
    localRoot, header, key: Buffer.from(key, 'base64'), deviceId, deviceName: 'crash', userName: 'crash',
    snapshotEvery: 40, sealDelayMs: 1, lockStaleMs: 2000,
  });
  const ex = new SharedFolderExchange(replica, { sharedRoot: medium ? medium.label : sharedRoot, medium, deviceName: 'crash', userName: 'crash', pollMs: medium ? 100 : 20, heartbeatMs: medium ? 400 : 200, watch: false, ...exchange });
  ex.start();
  process.stdout.write('ready\n');
  if (idle) return;
  for (let i = start; ; i++) {
    const id = `r${i}`;
    const op = i % 7 === 3 ? replica.remove('notes', `r${i - 1}`).then(() => ({ version: 'removed' })) : replica.put('notes', id, { i, text: 'Sitzungsnotiz '.repeat(20) });
    const rec = await op;
    process.stdout.write(`ack ${i % 7 === 3 ? `r${i - 1}` : id} ${rec.version}\n`);
    if (i % 25 === 0) await replica.importRecords([{ collection: 'imported', id: `i${i}`, data: { i } }]);
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  }
});
